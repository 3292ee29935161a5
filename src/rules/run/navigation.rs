//! A flow's navigation elements as a run shows them: each navigation's items (nested, in their
//! `order`), each pointing to a map element (`locationMapElementId`), the one the run is at
//! marked current and the items above it active. Moving by an item is the engine's
//! (`engine::navigate`).

use serde_json::Value;

use super::decision::objects;
use super::values::text;
use crate::store::JsonObject;

/// A navigation element as a run shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NavigationView {
    pub id: String,
    pub developer_name: String,
    pub label: Option<String>,
    pub persist_state: bool,
    pub persist_values: bool,
    /// `Top` or `Left`, as the element says.
    pub position: Option<String>,
    pub items: Vec<ItemView>,
}

/// One navigation item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    pub id: String,
    pub developer_name: Option<String>,
    pub label: Option<String>,
    pub order: i64,
    pub location: Option<String>,
    /// The run is at the map element it points to.
    pub is_current: bool,
    /// It, or an item under it, is current.
    pub is_active: bool,
    pub children: Vec<ItemView>,
}

impl NavigationView {
    /// Every item, depth first (parents before their children).
    pub fn flattened(&self) -> Vec<&ItemView> {
        fn walk<'a>(items: &'a [ItemView], out: &mut Vec<&'a ItemView>) {
            for item in items {
                out.push(item);
                walk(&item.children, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
    }
}

/// The navigation element `doc` with the run at the map element `at`.
pub fn view(id: &str, name: &str, doc: &JsonObject, at: Option<&str>) -> NavigationView {
    let flag = |field: &str| doc.get(field).and_then(Value::as_bool).unwrap_or(false);
    NavigationView {
        id: id.to_string(),
        developer_name: name.to_string(),
        label: text(doc, "label"),
        persist_state: flag("persistState"),
        persist_values: flag("persistValues"),
        position: text(doc, "position"),
        items: items(doc.get("navigationItems"), at),
    }
}

fn items(field: Option<&Value>, at: Option<&str>) -> Vec<ItemView> {
    let mut found: Vec<ItemView> = objects(field)
        .map(|item| {
            let location = text(item, "locationMapElementId");
            let children = items(item.get("navigationItems"), at);
            let is_current = location
                .as_deref()
                .zip(at)
                .is_some_and(|(l, at)| l.eq_ignore_ascii_case(at));
            ItemView {
                id: text(item, "id").unwrap_or_default(),
                developer_name: text(item, "developerName"),
                label: text(item, "label"),
                order: item.get("order").and_then(Value::as_i64).unwrap_or(0),
                is_active: is_current || children.iter().any(|c| c.is_active),
                is_current,
                location,
                children,
            }
        })
        .collect();
    found.sort_by_key(|item| item.order);
    found
}

/// The item `id` of a navigation element, at any depth.
pub fn find_item<'a>(navigation: &'a JsonObject, id: &str) -> Option<&'a JsonObject> {
    fn search<'a>(field: Option<&'a Value>, id: &str) -> Option<&'a JsonObject> {
        objects(field).find_map(|item| {
            if text(item, "id").is_some_and(|i| i.eq_ignore_ascii_case(id.trim())) {
                Some(item)
            } else {
                search(item.get("navigationItems"), id)
            }
        })
    }
    search(navigation.get("navigationItems"), id)
}
