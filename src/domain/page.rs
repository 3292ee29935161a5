//! Paging of a list: `page` (from 1) and `pageSize` (1 to 1000), as Boomi's paged endpoints
//! take them. Both are optional: a plain list without either is whole, a paged collection
//! starts at its first page.

use super::{Invalid, shorten};

/// One page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    number: u32,
    size: u32,
}

impl Page {
    /// The largest `pageSize` accepted.
    pub const MAX_SIZE: u32 = 1000;
    /// The `pageSize` when only `page` is given.
    pub const DEFAULT_SIZE: u32 = 100;

    /// `None` when neither is given; an error naming the accepted range for a value that is
    /// not a whole number in it (negative, zero, fractional, huge).
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<Option<Self>, Invalid> {
        if page.is_none() && page_size.is_none() {
            return Ok(None);
        }
        let number = page
            .map(|text| whole("page", text, u32::MAX))
            .transpose()?
            .unwrap_or(1);
        let size = page_size
            .map(|text| whole("pageSize", text, Self::MAX_SIZE))
            .transpose()?
            .unwrap_or(Self::DEFAULT_SIZE);
        Ok(Some(Self { number, size }))
    }

    /// The first page of `size` items (at most [`Page::MAX_SIZE`]).
    pub fn first(size: u32) -> Self {
        Self {
            number: 1,
            size: size.clamp(1, Self::MAX_SIZE),
        }
    }

    /// The page's number, from 1.
    pub fn number(self) -> u32 {
        self.number
    }

    /// How many items come before this page.
    pub fn offset(self) -> usize {
        (self.number as usize - 1).saturating_mul(self.size as usize)
    }

    pub fn size(self) -> usize {
        self.size as usize
    }

    /// This page of `items`.
    pub fn of<T>(self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip(self.offset())
            .take(self.size())
            .collect()
    }
}

fn whole(name: &str, text: &str, max: u32) -> Result<u32, Invalid> {
    digits(text)
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            Invalid::new(format!(
                "{name} must be a whole number from 1 to {max}, not '{}'",
                shorten(text)
            ))
        })
}

/// A whole number written as decimal digits only (white space around them aside). Not
/// `str::parse`, which also takes a leading `+`: the description types these parameters as
/// integers, and `+1` is no integer literal of JSON or OData, so it is refused like `1.0`.
pub fn digits(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_no_paging_and_one_value_takes_the_other_default() {
        assert_eq!(Page::parse(None, None).unwrap(), None);
        let page = Page::parse(Some("3"), None).unwrap().unwrap();
        assert_eq!((page.offset(), page.size()), (200, 100));
        let page = Page::parse(None, Some("10")).unwrap().unwrap();
        assert_eq!((page.offset(), page.size()), (0, 10));
        assert_eq!((Page::first(30).number(), Page::first(30).size()), (1, 30));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for (page, size) in [
            ("-1", "10"),
            ("0", "10"),
            ("1", "0"),
            ("1", "-5"),
            ("1", "1001"),
            ("99999999999999999999", "10"),
            ("1", "1e3"),
            ("1.5", "10"),
            ("", "10"),
            ("+1", "10"),
            ("1", "+10"),
            ("1", "\u{0661}"),
        ] {
            assert!(
                Page::parse(Some(page), Some(size)).is_err(),
                "{page} {size}"
            );
        }
    }

    #[test]
    fn the_last_page_may_be_short_and_past_it_is_empty() {
        let items: Vec<u32> = (1..=5).collect();
        let page = |n: &str| Page::parse(Some(n), Some("2")).unwrap().unwrap();
        assert_eq!(page("3").of(items.clone()), vec![5]);
        assert!(page("4").of(items.clone()).is_empty());
        assert!(page("4294967295").of(items).is_empty());
    }
}
