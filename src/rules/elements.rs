//! What saving and listing a tenant element means beyond storing it: which element a save
//! writes (the request's id, one keyflow mints, or the element of the same name when
//! `updateByName` asks), and how a paged list (`draw/2`) is filtered, ordered and cut.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::domain::element::{ElementKind, ElementName};
use crate::domain::{FlowFilter, Invalid, TenantId, UserId, new_id};
use crate::rules::RuleError;
use crate::rules::packages::element_references;
use crate::rules::references::{self, Referrer};
use crate::store::{ElementRecord, JsonObject, NewElement, Store};

/// A save of one element, as the edge read it.
#[derive(Debug, Clone)]
pub struct ElementSave {
    pub kind: ElementKind,
    /// The request's id; `None` when it sent none (keyflow mints one).
    pub id: Option<Uuid>,
    pub name: ElementName,
    /// `updateByName: true`: the tenant's element of the kind with this name (ignoring case)
    /// is the one written, whatever `id` says.
    pub update_by_name: bool,
    pub document: JsonObject,
}

/// Saves the element: an update of the element the id (or, with `updateByName`, the name)
/// names, else a new element — with the request's id when it gave one (as Boomi does when a
/// tool imports elements), else a new one. Conflict when another element of the kind has the
/// name, or when the id is an element of another kind; Invalid when it refers to an element
/// the tenant does not hold (itself aside), as package import would refuse it.
pub async fn save(
    store: &dyn Store,
    tenant: TenantId,
    author: UserId,
    save: ElementSave,
) -> Result<ElementRecord, RuleError> {
    let mut id = save.id;
    if save.update_by_name {
        let folded = save.name.folded();
        let same_name = store
            .elements(tenant, Some(save.kind))
            .await?
            .into_iter()
            .find(|element| element.developer_name.to_lowercase() == folded);
        if let Some(element) = same_name {
            id = Some(element.id);
        }
    }
    let element = NewElement {
        id: id.unwrap_or_else(new_id),
        kind: save.kind,
        name: save.name,
        document: save.document,
        author,
    };
    let referrer = Referrer {
        label: format!("the {} '{}'", element.kind.noun(), element.name.as_str()),
        document: &element.document,
    };
    references::refuse_unknown(store, tenant, &BTreeSet::from([element.id]), [referrer]).await?;
    Ok(store.save_element(tenant, element).await?)
}

/// Deletes the tenant's element of this kind: false when it has none. Conflict, naming them,
/// when other elements of the tenant refer to it (a value to its type, a page to its values):
/// deleted, they would refer to nothing, and the tenant's export would no longer import (a
/// flow that uses it is refused by the store). A save racing the delete may still add such a
/// reference; the check keeps the usual path honest, as a flow's use does under a lock.
pub async fn remove(
    store: &dyn Store,
    tenant: TenantId,
    kind: ElementKind,
    id: Uuid,
) -> Result<bool, RuleError> {
    let referrers: Vec<String> = store
        .elements(tenant, None)
        .await?
        .into_iter()
        .filter(|other| other.id != id && element_references(&other.document).contains(&id))
        .map(|other| format!("the {} '{}'", other.kind.noun(), other.developer_name))
        .collect();
    if !referrers.is_empty() {
        return Err(RuleError::Conflict(format!(
            "the {} {id} is referred to by {}: change {} first",
            kind.noun(),
            referrers.join(", "),
            if referrers.len() == 1 { "it" } else { "them" }
        )));
    }
    Ok(store.delete_element(tenant, kind, id).await?)
}

/// The filter of element lists: the OData filter of the flow lists.
pub type ElementFilter = FlowFilter;

/// Whether the element passes the list's filter.
pub fn passes(filter: &ElementFilter, element: &ElementRecord) -> bool {
    filter.matches(element)
}

/// What a list keeps beyond the filter: `contentType` (of values and tags), ignoring case.
pub fn has_content_type(element: &ElementRecord, content_type: &str) -> bool {
    element
        .document
        .get("contentType")
        .and_then(|value| value.as_str())
        .is_some_and(|value| value.eq_ignore_ascii_case(content_type))
}

/// How a paged list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    DeveloperName,
    DateModified,
    DateCreated,
}

/// A paged list's order and page, parsed from its query (`orderBy`, `orderDirection`,
/// `page`, `limit`/`pageSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub order_by: OrderBy,
    pub descending: bool,
    /// From 1.
    pub page: u32,
    /// Items per page; 0 is the whole list.
    pub limit: u32,
}

impl Paging {
    /// The default page size.
    pub const DEFAULT_LIMIT: u32 = 20;

    /// Each parameter optional: by default the first 20 by `dateModified`, newest first.
    /// `limit` and `pageSize` are one setting under the two names Boomi's lists use: each given
    /// one must be valid, and when both are given `limit` wins (the description allows both,
    /// so refusing the pair would refuse a request it calls valid).
    pub fn parse(
        order_by: Option<&str>,
        direction: Option<&str>,
        page: Option<&str>,
        limit: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<Self, Invalid> {
        let order_by = match order_by.map(str::trim) {
            None | Some("") => OrderBy::DateModified,
            Some(text) if text.eq_ignore_ascii_case("developerName") => OrderBy::DeveloperName,
            Some(text) if text.eq_ignore_ascii_case("dateModified") => OrderBy::DateModified,
            Some(text) if text.eq_ignore_ascii_case("dateCreated") => OrderBy::DateCreated,
            Some(text) => {
                return Err(Invalid::new(format!(
                    "orderBy must be developerName, dateModified or dateCreated, not '{}'",
                    crate::domain::shorten(text)
                )));
            }
        };
        let descending = match direction.map(str::trim) {
            None | Some("") => true,
            Some(text) if text.eq_ignore_ascii_case("DESC") => true,
            Some(text) if text.eq_ignore_ascii_case("ASC") => false,
            Some(text) => {
                return Err(Invalid::new(format!(
                    "orderDirection must be ASC or DESC, not '{}'",
                    crate::domain::shorten(text)
                )));
            }
        };
        let page = number("page", page, 1, 1)?;
        let size = number("pageSize", page_size, 0, Self::DEFAULT_LIMIT)?;
        let limit = match limit {
            Some(_) => number("limit", limit, 0, Self::DEFAULT_LIMIT)?,
            None => size,
        };
        Ok(Self {
            order_by,
            descending,
            page,
            limit,
        })
    }

    /// Orders the elements and returns this page of them and how many there were.
    pub fn apply(self, mut elements: Vec<ElementRecord>) -> (Vec<ElementRecord>, usize) {
        let total = elements.len();
        elements.sort_by(|a, b| {
            let by = match self.order_by {
                OrderBy::DeveloperName => a
                    .developer_name
                    .to_lowercase()
                    .cmp(&b.developer_name.to_lowercase()),
                OrderBy::DateModified => a.date_modified.cmp(&b.date_modified),
                OrderBy::DateCreated => a.date_created.cmp(&b.date_created),
            };
            // The id breaks ties, so paging through a list never skips or repeats one.
            let by = by.then_with(|| a.id.cmp(&b.id));
            if self.descending { by.reverse() } else { by }
        });
        if self.limit == 0 {
            return (elements, total);
        }
        let skip = (self.page as usize - 1).saturating_mul(self.limit as usize);
        let page = elements
            .into_iter()
            .skip(skip)
            .take(self.limit as usize)
            .collect();
        (page, total)
    }
}

/// A whole-number parameter; absent is `default`, but a given one must be a number (blank is
/// not: the description types it as an integer).
fn number(name: &str, text: Option<&str>, min: u32, default: u32) -> Result<u32, Invalid> {
    let Some(text) = text.map(str::trim) else {
        return Ok(default);
    };
    crate::domain::digits(text)
        .filter(|n| *n >= min)
        .ok_or_else(|| {
            Invalid::new(format!(
                "{name} must be a whole number from {min} to {}, not '{}'",
                u32::MAX,
                crate::domain::shorten(text)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_refusals() {
        let paging = Paging::parse(None, None, None, None, None).unwrap();
        assert_eq!(
            paging,
            Paging {
                order_by: OrderBy::DateModified,
                descending: true,
                page: 1,
                limit: 20
            }
        );
        let paging = Paging::parse(
            Some("DEVELOPERNAME"),
            Some("asc"),
            Some("2"),
            Some("0"),
            None,
        );
        assert_eq!(paging.unwrap().limit, 0);
        assert!(Paging::parse(Some("name"), None, None, None, None).is_err());
        assert!(Paging::parse(None, Some("UP"), None, None, None).is_err());
        assert!(Paging::parse(None, None, Some("0"), None, None).is_err());
        assert!(Paging::parse(None, None, None, Some("-1"), None).is_err());
        assert!(Paging::parse(None, None, None, Some("2"), Some("x")).is_err());
        let both = Paging::parse(None, None, None, Some("2"), Some("3")).unwrap();
        assert_eq!(both.limit, 2, "limit wins over pageSize");
        let size = Paging::parse(None, None, None, None, Some("3")).unwrap();
        assert_eq!(size.limit, 3);
        // Given but blank is not a number (schemathesis found `?page=` answered as absent).
        assert!(Paging::parse(None, None, Some(""), None, None).is_err());
        assert!(Paging::parse(None, None, None, Some(" "), None).is_err());
        assert!(Paging::parse(None, None, None, None, Some("")).is_err());
        // A sign is no digit: `+1` is refused as the description's integer would be.
        assert!(Paging::parse(None, None, Some("+1"), None, None).is_err());
        assert!(Paging::parse(None, None, None, Some("+0"), None).is_err());
    }
}
