//! One page of a list: `page` (from 1) and `pageSize`, as Boomi's paged lists take them.

use super::Invalid;

/// A valid page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub const DEFAULT_SIZE: u32 = 30;
    pub const MAX_SIZE: u32 = 1000;

    /// Defaults to the first page of 30; `page` must be at least 1 and `pageSize` 1 to 1000.
    pub fn parse(number: Option<i64>, size: Option<i64>) -> Result<Self, Invalid> {
        let number = number.unwrap_or(1);
        let size = size.unwrap_or(i64::from(Self::DEFAULT_SIZE));
        let number = u32::try_from(number)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Invalid::new(format!("page must be 1 or more, not {number}")))?;
        let size = u32::try_from(size)
            .ok()
            .filter(|n| (1..=Self::MAX_SIZE).contains(n))
            .ok_or_else(|| {
                Invalid::new(format!(
                    "pageSize must be 1 to {}, not {size}",
                    Self::MAX_SIZE
                ))
            })?;
        Ok(Self { number, size })
    }

    /// How many rows come before this page.
    pub fn offset(self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_are_bounded() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page {
                number: 1,
                size: 30
            }
        );
        assert_eq!(Page::parse(Some(3), Some(10)).unwrap().offset(), 20);
        for (number, size) in [(0, 10), (-1, 10), (1, 0), (1, 1001), (i64::MAX, 10)] {
            assert!(Page::parse(Some(number), Some(size)).is_err());
        }
    }
}
