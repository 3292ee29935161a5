//! Reading a filter's text: words, quoted values and punctuation first, then the grammar of
//! [`super`] by recursive descent. The length is bounded before anything is read and the
//! nesting while it is, so a hostile filter costs little stack and time.

use super::{FILTER_FORMS, FILTER_MAX_CHARS, FILTER_MAX_DEPTH, Field, Filter, Test};
use crate::domain::{Invalid, ids::shorten, names::disguises};

/// One piece of a filter's text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Letters, digits and underscores: a keyword or a field, in any case.
    Word(String),
    /// A quoted value, its `''` read as one quote.
    Value(String),
    Open,
    Close,
    Comma,
}

pub(super) fn parse(text: &str) -> Result<Option<Filter>, Invalid> {
    // Counted before trimming, as the OpenAPI `maxLength` counts.
    if text.chars().count() > FILTER_MAX_CHARS {
        return Err(Invalid::new(format!(
            "the filter is longer than {FILTER_MAX_CHARS} characters"
        )));
    }
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    // No flow name holds these, so a filter that does is a mistake or a probe.
    if text.chars().any(refused) {
        return Err(Invalid::new(
            "the filter must not contain control, invisible or direction-changing characters",
        ));
    }
    let unreadable = |why: &str| {
        Invalid::new(format!(
            "cannot read the filter '{}': {why}; {FILTER_FORMS}",
            shorten(text)
        ))
    };
    let tokens = tokens(text).map_err(|why| unreadable(&why))?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
    };
    let filter = parser.or(0).map_err(|why| unreadable(&why))?;
    match parser.next() {
        None => Ok(Some(filter)),
        Some(token) => Err(unreadable(&format!("{} was not expected", shown(token)))),
    }
}

/// Characters a filter may not hold: controls other than white space (which may separate the
/// parts), and the disguising characters of the Basic Multilingual Plane — the set the
/// OpenAPI pattern of `filter` excludes. (A noncharacter beyond it simply matches nothing.)
fn refused(c: char) -> bool {
    (c.is_control() && !c.is_whitespace()) || (u32::from(c) <= 0xFFFF && disguises(c))
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\'')) if matches!(chars.peek(), Some((_, '\''))) => {
                            chars.next();
                            value.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, c)) => value.push(c),
                        None => return Err("a quoted value is not closed".into()),
                    }
                }
                tokens.push(Token::Value(value));
            }
            c if is_word(c) => {
                let mut end = start;
                while let Some(&(index, c)) = chars.peek() {
                    if !is_word(c) {
                        break;
                    }
                    end = index + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_string()));
            }
            other => return Err(format!("'{other}' has no meaning here")),
        }
    }
    Ok(tokens)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn shown(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("'{}'", shorten(word)),
        Token::Value(value) => format!("the value '{}'", shorten(value)),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.at)?;
        self.at += 1;
        Some(token)
    }

    /// Takes the next token when it is the keyword (in any case).
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = matches!(
            self.tokens.get(self.at),
            Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword)
        );
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, wanted: &Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(token) if token == wanted => Ok(()),
            Some(token) => Err(format!("expected {what}, not {}", shown(token))),
            None => Err(format!("expected {what} at the end")),
        }
    }

    /// `and ( "or" and )*`; `depth` is how many parentheses enclose it.
    fn or(&mut self, depth: usize) -> Result<Filter, String> {
        let mut parts = vec![self.and(depth)?];
        while self.keyword("or") {
            parts.push(self.and(depth)?);
        }
        Ok(joined(parts, Filter::Any))
    }

    fn and(&mut self, depth: usize) -> Result<Filter, String> {
        let mut parts = vec![self.primary(depth)?];
        while self.keyword("and") {
            parts.push(self.primary(depth)?);
        }
        Ok(joined(parts, Filter::All))
    }

    fn primary(&mut self, depth: usize) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                if depth >= FILTER_MAX_DEPTH {
                    return Err(format!(
                        "it nests parentheses deeper than {FILTER_MAX_DEPTH} levels"
                    ));
                }
                let inner = self.or(depth + 1)?;
                self.expect(&Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("substringof") => {
                self.function(Test::Contains, true)
            }
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("startswith") => {
                self.function(Test::StartsWith, false)
            }
            Some(Token::Word(word)) => {
                let field = field(word)?;
                let test = if self.keyword("eq") {
                    Test::Equals
                } else if self.keyword("ne") {
                    Test::NotEquals
                } else {
                    return Err(match self.next() {
                        Some(token) => format!("expected eq or ne, not {}", shown(token)),
                        None => "expected eq or ne at the end".into(),
                    });
                };
                let value = self.value()?;
                Ok(compare(field, test, &value))
            }
            Some(token) => Err(format!(
                "expected a field or a function, not {}",
                shown(token)
            )),
            None => Err("expected a field or a function at the end".into()),
        }
    }

    /// `( field , value )` after a function's name; `either_order` also takes the value first
    /// (OData v2 writes `substringof('part', field)`).
    fn function(&mut self, test: Test, either_order: bool) -> Result<Filter, String> {
        self.expect(&Token::Open, "'('")?;
        let (field, value) = match self.next() {
            Some(Token::Word(word)) => {
                let field = field(word)?;
                self.expect(&Token::Comma, "','")?;
                (field, self.value()?)
            }
            Some(Token::Value(value)) if either_order => {
                let value = value.clone();
                self.expect(&Token::Comma, "','")?;
                match self.next() {
                    Some(Token::Word(word)) => (field(word)?, value),
                    Some(token) => return Err(format!("expected a field, not {}", shown(token))),
                    None => return Err("expected a field at the end".into()),
                }
            }
            Some(token) => return Err(format!("expected a field, not {}", shown(token))),
            None => return Err("expected a field at the end".into()),
        };
        self.expect(&Token::Close, "')'")?;
        Ok(compare(field, test, &value))
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Value(value)) => Ok(value.clone()),
            Some(token) => Err(format!("expected a quoted value, not {}", shown(token))),
            None => Err("expected a quoted value at the end".into()),
        }
    }
}

fn field(word: &str) -> Result<Field, String> {
    [
        ("developerName", Field::DeveloperName),
        ("developerSummary", Field::DeveloperSummary),
        ("id", Field::Id),
    ]
    .into_iter()
    .find(|(name, _)| word.eq_ignore_ascii_case(name))
    .map(|(_, field)| field)
    .ok_or_else(|| format!("'{}' is not a field a filter can test", shorten(word)))
}

fn compare(field: Field, test: Test, value: &str) -> Filter {
    Filter::Compare {
        field,
        test,
        value: value.to_lowercase(),
    }
}

/// One part stands alone; several are joined.
fn joined(mut parts: Vec<Filter>, join: fn(Vec<Filter>) -> Filter) -> Filter {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        join(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_eq(value: &str) -> Filter {
        compare(Field::DeveloperName, Test::Equals, value)
    }

    fn parsed(text: &str) -> Filter {
        parse(text).unwrap().expect("a filter")
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(
            parsed("developerName eq 'Hello World'"),
            name_eq("hello world")
        );
        assert_eq!(
            parsed("developerSummary ne 'X'"),
            compare(Field::DeveloperSummary, Test::NotEquals, "x")
        );
        assert_eq!(
            parsed("substringof(developerName, 'World')"),
            compare(Field::DeveloperName, Test::Contains, "world")
        );
        assert_eq!(
            parsed("SUBSTRINGOF( developername ,'x' ) "),
            compare(Field::DeveloperName, Test::Contains, "x")
        );
        assert_eq!(
            parsed("substringof('x', ID)"),
            compare(Field::Id, Test::Contains, "x")
        );
        assert_eq!(
            parsed("StartsWith(developerName,'He')"),
            compare(Field::DeveloperName, Test::StartsWith, "he")
        );
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        assert_eq!(
            parsed("developerName eq 'a' OR developerName eq 'b' And developerName eq 'c'"),
            Filter::Any(vec![
                name_eq("a"),
                Filter::All(vec![name_eq("b"), name_eq("c")])
            ])
        );
        assert_eq!(
            parsed("(developerName eq 'a' or developerName eq 'b')and developerName eq 'c'"),
            Filter::All(vec![
                Filter::Any(vec![name_eq("a"), name_eq("b")]),
                name_eq("c")
            ])
        );
        assert_eq!(parsed("((developerName eq 'a'))"), name_eq("a"));
    }

    #[test]
    fn doubled_quotes_stand_for_one() {
        assert_eq!(parsed("developerName eq 'it''s'"), name_eq("it's"));
        assert_eq!(parsed("developerName eq ''''"), name_eq("'"));
        assert_eq!(parsed("developerName eq ''"), name_eq(""));
    }

    #[test]
    fn blank_is_no_filter_and_garbage_is_refused_naming_the_forms() {
        assert_eq!(parse("  ").unwrap(), None);
        for bad in [
            "developerName eq 'open",
            "developerName eq 'a' or 1=1",
            "developerName eq 'a' or",
            "developerName eq 'a' and and developerName eq 'b'",
            "developerNameeq 'a'",
            "name eq 'a'",
            "substringof(developerName,'a'",
            "startswith('a',developerName)",
            "developerName gt 'a'",
            "not developerName eq 'a'",
            "(developerName eq 'a'",
            "developerName eq 'a')",
            "()",
            "é",
            "developerName eq 'a' 'b'",
            "developerName eq 'a\u{0}b'",
            "substringof(developerName,'\u{202E}')",
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(!error.0.is_empty(), "{bad}");
        }
        let error = parse("name eq 'a'").unwrap_err().0;
        assert!(error.contains("substringof(field,'part')"), "{error}");
        assert!(error.contains("'name' is not a field"), "{error}");
    }

    #[test]
    fn white_space_may_separate_the_parts_but_other_controls_are_refused() {
        assert_eq!(parsed("\t\rdeveloperName\x0beq\x0c'a'\n"), name_eq("a"));
        assert!(parse("developerName eq 'a\u{3}'").is_err());
        assert!(parse("developerName eq 'a\u{202e}'").is_err());
    }

    #[test]
    fn length_and_depth_are_bounded() {
        let deep = format!(
            "{}developerName eq 'a'{}",
            "(".repeat(FILTER_MAX_DEPTH),
            ")".repeat(FILTER_MAX_DEPTH)
        );
        assert_eq!(parsed(&deep), name_eq("a"));
        let deeper = format!("({deep})");
        assert!(parse(&deeper).unwrap_err().0.contains("deeper"));
        // Far deeper than the stack could take if it were not bounded.
        let hostile = "(".repeat(FILTER_MAX_CHARS);
        assert!(parse(&hostile).is_err());
        let long = format!("developerName eq '{}'", "a".repeat(FILTER_MAX_CHARS));
        assert!(parse(&long).unwrap_err().0.contains("longer"));
        // The longest accepted filter, many terms long, still parses.
        let term = " or developerName eq 'a'";
        let many = format!(
            "developerName eq 'a'{}",
            term.repeat((FILTER_MAX_CHARS - 20) / term.len())
        );
        assert!(parse(&many).is_ok());
    }
}
