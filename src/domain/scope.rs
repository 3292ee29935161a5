//! What an API key may be narrowed to: scopes such as `flows:read`, as a set that is one
//! machine word (`Copy`, checked with one AND, nothing allocated on the request path).
//!
//! A scope is an area and an access (`read`: the safe methods; `write`: the others). Adding
//! an area (a later `run:…`) is a line in [`Scope::ALL`] and the enum: the bits of stored
//! scopes never matter, since keys keep their scopes as names.

use std::fmt;

use super::Invalid;

/// One scope. Its discriminant is its bit in [`Scopes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Scope {
    FlowsRead,
    FlowsWrite,
    ElementsRead,
    ElementsWrite,
    PackagesRead,
    PackagesWrite,
    AdminRead,
    AdminWrite,
    /// Running flows (`/api/run/1/…`): start, invoke, read states and the runnable flows.
    FlowsRun,
}

impl Scope {
    /// Every scope, in the order lists show them.
    pub const ALL: [Scope; 9] = [
        Scope::FlowsRead,
        Scope::FlowsWrite,
        Scope::ElementsRead,
        Scope::ElementsWrite,
        Scope::PackagesRead,
        Scope::PackagesWrite,
        Scope::AdminRead,
        Scope::AdminWrite,
        Scope::FlowsRun,
    ];

    /// Its name, as the API and the pages spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Scope::FlowsRead => "flows:read",
            Scope::FlowsWrite => "flows:write",
            Scope::ElementsRead => "elements:read",
            Scope::ElementsWrite => "elements:write",
            Scope::PackagesRead => "packages:read",
            Scope::PackagesWrite => "packages:write",
            Scope::AdminRead => "admin:read",
            Scope::AdminWrite => "admin:write",
            Scope::FlowsRun => "flows:run",
        }
    }

    /// The scope a name spells (exactly, after trimming), or a refusal listing every scope.
    pub fn parse(text: &str) -> Result<Scope, Invalid> {
        let text = text.trim();
        Scope::ALL
            .into_iter()
            .find(|scope| scope.name() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|scope| scope.name()).collect();
                Invalid::new(format!(
                    "'{}' is not a scope; the scopes are: {}",
                    super::shorten(text),
                    known.join(", ")
                ))
            })
    }

    const fn bit(self) -> u16 {
        1 << self as u8
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key's scopes. Empty means the key is not narrowed: it has what its owner's role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u16);

impl Scopes {
    /// Not narrowed.
    pub const UNSCOPED: Scopes = Scopes(0);

    /// The set of the given names; a name that is not a scope is refused, naming it and the
    /// scopes there are. Repeats are harmless. No names: unscoped.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Scopes, Invalid> {
        let mut set = Scopes::UNSCOPED;
        for name in names {
            set.0 |= Scope::parse(name)?.bit();
        }
        Ok(set)
    }

    /// Read back from storage: names separated by white space.
    pub fn from_stored(text: &str) -> Result<Scopes, Invalid> {
        Scopes::parse(text.split_whitespace())
    }

    /// As storage keeps it: the names, space-separated (empty when unscoped).
    pub fn to_stored(self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    pub const fn is_unscoped(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether a request needing `scope` is within these scopes: always when unscoped.
    pub const fn permits(self, scope: Scope) -> bool {
        self.is_unscoped() || self.contains(scope)
    }

    /// The names of the scopes in the set, in [`Scope::ALL`]'s order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
            .map(Scope::name)
    }
}

/// Reads the column (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for Scopes {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Self, Invalid> {
        Scopes::from_stored(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_parses_back_from_its_name_and_has_its_own_bit() {
        let mut seen = 0u16;
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.name()), Ok(scope));
            assert_eq!(seen & scope.bit(), 0, "{scope} shares a bit");
            seen |= scope.bit();
        }
    }

    #[test]
    fn an_unknown_scope_is_refused_naming_it_and_the_known_ones() {
        let error = Scopes::parse(["flows:read", "flows:delete"]).unwrap_err();
        assert!(error.0.contains("'flows:delete'"), "{error}");
        assert!(error.0.contains("flows:read, flows:write"), "{error}");
        assert!(Scopes::parse(["FLOWS:READ"]).is_err(), "names are exact");
    }

    #[test]
    fn unscoped_permits_everything_and_a_set_only_its_members() {
        assert!(Scope::ALL.iter().all(|s| Scopes::UNSCOPED.permits(*s)));
        let set = Scopes::parse(["flows:read", " elements:write ", "flows:read"]).unwrap();
        assert!(set.permits(Scope::FlowsRead));
        assert!(set.permits(Scope::ElementsWrite));
        assert!(
            !set.permits(Scope::FlowsWrite),
            "write does not come with read"
        );
        assert!(!set.permits(Scope::AdminRead));
        assert_eq!(set.to_stored(), "flows:read elements:write");
        assert_eq!(Scopes::from_stored(&set.to_stored()), Ok(set));
        assert_eq!(Scopes::from_stored(""), Ok(Scopes::UNSCOPED));
        assert_eq!(Scopes::parse([]), Ok(Scopes::UNSCOPED));
    }
}
