//! A list's `filter`, applied to the rows a backend read, for both backends alike. The OData
//! grammar (`domain::filter`) says more than one SQL condition could, and a tenant's flows are
//! few enough to read whole; the folding and comparing then happen in one place.

use std::borrow::Cow;

use super::{ElementRecord, FlowRecord};
use crate::domain::filter::{Field, Filter, Filterable};

impl Filterable for FlowRecord {
    fn field(&self, field: Field) -> Option<Cow<'_, str>> {
        match field {
            Field::DeveloperName => Some(Cow::Borrowed(&self.developer_name)),
            Field::DeveloperSummary => self.developer_summary.as_deref().map(Cow::Borrowed),
            Field::Id => Some(Cow::Owned(self.id.to_string())),
        }
    }
}

/// An element kept as a document (of a tenant or a flow): its name and id beside it, its
/// summary the document's `developerSummary` when a string.
impl<K> Filterable for ElementRecord<K> {
    fn field(&self, field: Field) -> Option<Cow<'_, str>> {
        match field {
            Field::DeveloperName => Some(Cow::Borrowed(&self.developer_name)),
            Field::DeveloperSummary => self
                .document
                .get("developerSummary")
                .and_then(|value| value.as_str())
                .map(Cow::Borrowed),
            Field::Id => Some(Cow::Owned(self.id.to_string())),
        }
    }
}

/// The rows that pass the filter (all of them without one), in their order.
pub(crate) fn passing(mut rows: Vec<FlowRecord>, filter: Option<&Filter>) -> Vec<FlowRecord> {
    if let Some(filter) = filter {
        rows.retain(|row| filter.matches(row));
    }
    rows
}
