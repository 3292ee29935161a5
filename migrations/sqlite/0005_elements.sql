-- Whole flows: the tenant's elements, each flow's graph elements, the tenant elements each
-- flow uses, and the frozen image of each snapshot. Elements are kept as the JSON documents
-- Boomi's tools send (text: it round-trips every character), with the columns keyflow
-- queries beside them.

-- Values, types, pages, services, macros, identity providers, tags and custom page
-- components. A name is unique per tenant and kind, ignoring case.
CREATE TABLE elements (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,         -- the path segment: value, type, page, …
    developer_name  TEXT NOT NULL,
    name_folded     TEXT NOT NULL,         -- Unicode lower case (Rust's)
    document        TEXT NOT NULL,         -- JSON object: the request's fields as sent
    date_created    TEXT NOT NULL,
    date_modified   TEXT NOT NULL,
    who_created     TEXT NOT NULL,
    who_modified    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, name_folded)
) STRICT;

-- The map, group and navigation elements of the version of each flow being edited.
CREATE TABLE flow_elements (
    flow_id         TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('map', 'group', 'navigation')),
    developer_name  TEXT NOT NULL,
    document        TEXT NOT NULL,         -- JSON object, as in elements
    date_created    TEXT NOT NULL,
    date_modified   TEXT NOT NULL,
    who_created     TEXT NOT NULL,
    who_modified    TEXT NOT NULL,
    PRIMARY KEY (flow_id, id)
) STRICT;

-- The tenant elements a flow uses. The foreign key (no action on delete) is what refuses to
-- delete an element that a flow uses, even when the two writes race.
CREATE TABLE flow_uses (
    flow_id     TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    element_id  TEXT NOT NULL,
    imported    INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1)),
    PRIMARY KEY (flow_id, element_id),
    FOREIGN KEY (tenant_id, element_id) REFERENCES elements (tenant_id, id)
) STRICT;
CREATE INDEX flow_uses_by_element ON flow_uses (tenant_id, element_id);

-- A snapshot's flow elements and the tenant elements it used, as they were (JSON). NULL for
-- snapshots taken before: they hold their START element only.
ALTER TABLE flow_snapshots ADD COLUMN image TEXT;

-- The START elements move into flow_elements as documents.
INSERT INTO flow_elements (flow_id, id, kind, developer_name, document, date_created,
                           date_modified, who_created, who_modified)
SELECT m.flow_id, m.id, 'map', m.developer_name,
       json_object('elementType', m.element_type, 'developerName', m.developer_name,
                   'x', m.x, 'y', m.y),
       m.date_created, m.date_created, f.who_created, f.who_created
FROM map_elements m JOIN flows f ON f.id = m.flow_id;
DROP TABLE map_elements;
