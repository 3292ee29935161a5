-- Whole flows: the tenant's elements, each flow's graph elements, the tenant elements each
-- flow uses, and the frozen image of each snapshot (the same tables as SQLite's 0005).
-- Documents are JSON text, not jsonb: jsonb holds no U+0000, which a document may carry.

CREATE TABLE elements (
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    kind            text NOT NULL,
    developer_name  text NOT NULL,
    name_folded     text NOT NULL,
    document        text NOT NULL,
    date_created    timestamptz NOT NULL,
    date_modified   timestamptz NOT NULL,
    who_created     uuid NOT NULL,
    who_modified    uuid NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, name_folded)
);

CREATE TABLE flow_elements (
    flow_id         uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('map', 'group', 'navigation')),
    developer_name  text NOT NULL,
    document        text NOT NULL,
    date_created    timestamptz NOT NULL,
    date_modified   timestamptz NOT NULL,
    who_created     uuid NOT NULL,
    who_modified    uuid NOT NULL,
    PRIMARY KEY (flow_id, id)
);

-- The foreign key (no action) refuses to delete an element a flow uses, even under races.
CREATE TABLE flow_uses (
    flow_id     uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    element_id  uuid NOT NULL,
    imported    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (flow_id, element_id),
    FOREIGN KEY (tenant_id, element_id) REFERENCES elements (tenant_id, id)
);
CREATE INDEX flow_uses_by_element ON flow_uses (tenant_id, element_id);

ALTER TABLE flow_snapshots ADD COLUMN image text;

INSERT INTO flow_elements (flow_id, id, kind, developer_name, document, date_created,
                           date_modified, who_created, who_modified)
SELECT m.flow_id, m.id, 'map', m.developer_name,
       json_build_object('elementType', m.element_type, 'developerName', m.developer_name,
                         'x', m.x, 'y', m.y)::text,
       m.date_created, m.date_created, f.who_created, f.who_created
FROM map_elements m JOIN flows f ON f.id = m.flow_id;
DROP TABLE map_elements;
