-- The flow's editing token under which each flow element was last changed, by a write that
-- kept the token (an element write through `…/{editingToken}/element/…`). Such writes let a
-- builder keep its token; a write with token T to an element last changed under T by another
-- user (`who_modified`) is refused, so two editors holding one token cannot undo each other's
-- change unseen. The nil UUID: last changed by a write that gave the flow a new token (or
-- before keyflow kept this), which no client's token can equal.
ALTER TABLE flow_elements
    ADD COLUMN edit_token TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
