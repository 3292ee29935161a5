-- Placeholder, replaced by the full schema.
CREATE TABLE change_counter (
    id     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    value  BIGINT NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (TRUE, 0);
