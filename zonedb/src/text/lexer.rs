//! The RFC 1035 §5.1 master-file lexer: bytes → entries of tokens with line numbers.
//!
//! It owns the syntax that is the same for every record: comments, quoted strings,
//! parentheses that join lines, and whether an entry starts with blank space (which
//! means "same owner as before"). Escapes (`\X`, `\DDD`) are left in the token text and
//! decoded by whoever knows the field's type (names and character-strings differ).
//! Tokens borrow from the file's text; one `Vec` is reused across entries, so lexing a
//! large zone does not allocate per record.

pub use shoal_wire::rdata::Token;

/// A syntax error of the lexer itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    UnterminatedString,
    UnbalancedParenthesis,
    /// A `\` at the very end of the input.
    DanglingEscape,
}

impl std::fmt::Display for LexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LexError::UnterminatedString => "unterminated quoted string",
            LexError::UnbalancedParenthesis => "unbalanced parenthesis",
            LexError::DanglingEscape => "backslash at end of file",
        })
    }
}

/// Splits a master file into entries.
pub struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

/// An entry: the tokens of one logical line.
pub struct Entry {
    /// Line on which the entry starts (1-based).
    pub line: usize,
    /// The entry began with blank space: the owner is the previous one.
    pub blank_owner: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0, line: 1 }
    }

    /// The line the lexer is on, for errors raised between entries.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Read the next non-empty entry into `tokens` (cleared first). `Ok(None)` at end of
    /// input. On error the rest of the offending line is skipped, so the caller can go
    /// on and report further errors.
    pub fn next_entry(&mut self, tokens: &mut Vec<Token<'a>>) -> Result<Option<Entry>, (usize, LexError)> {
        let b = self.text.as_bytes();
        loop {
            tokens.clear();
            if self.pos >= b.len() {
                return Ok(None);
            }
            let start_line = self.line;
            let blank_owner = matches!(b[self.pos], b' ' | b'\t');
            let mut depth = 0usize;
            loop {
                if self.pos >= b.len() {
                    if depth > 0 {
                        return Err((start_line, LexError::UnbalancedParenthesis));
                    }
                    break;
                }
                match b[self.pos] {
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b';' => {
                        while self.pos < b.len() && b[self.pos] != b'\n' {
                            self.pos += 1;
                        }
                    }
                    b'(' => {
                        depth += 1;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            self.skip_line();
                            return Err((start_line, LexError::UnbalancedParenthesis));
                        }
                        depth -= 1;
                        self.pos += 1;
                    }
                    b'"' => {
                        let s = self.pos + 1;
                        let mut i = s;
                        loop {
                            match b.get(i) {
                                None => {
                                    self.pos = b.len();
                                    return Err((start_line, LexError::UnterminatedString));
                                }
                                Some(b'\\') => i += 2,
                                Some(b'"') => break,
                                Some(b'\n') => {
                                    self.line += 1;
                                    i += 1
                                }
                                Some(_) => i += 1,
                            }
                        }
                        let i = i.min(b.len());
                        tokens.push(Token { text: &self.text[s..i], quoted: true });
                        self.pos = i + 1;
                    }
                    _ => {
                        let s = self.pos;
                        let mut i = s;
                        while i < b.len() {
                            match b[i] {
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                                b'\\' => {
                                    if i + 1 >= b.len() {
                                        self.pos = b.len();
                                        return Err((start_line, LexError::DanglingEscape));
                                    }
                                    i += 2
                                }
                                _ => i += 1,
                            }
                        }
                        let i = i.min(b.len());
                        // Token boundaries fall on ASCII bytes, so this slice is valid.
                        tokens.push(Token { text: &self.text[s..i], quoted: false });
                        self.pos = i;
                    }
                }
            }
            if !tokens.is_empty() {
                return Ok(Some(Entry { line: start_line, blank_owner }));
            }
        }
    }

    fn skip_line(&mut self) {
        let b = self.text.as_bytes();
        while self.pos < b.len() && b[self.pos] != b'\n' {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(usize, bool, Vec<String>)> {
        let mut lx = Lexer::new(text);
        let mut toks = Vec::new();
        let mut out = Vec::new();
        while let Some(e) = lx.next_entry(&mut toks).unwrap() {
            out.push((e.line, e.blank_owner, toks.iter().map(|t| t.text.to_string()).collect()));
        }
        out
    }

    #[test]
    fn parentheses_join_lines_and_comments_vanish() {
        let e = entries("@ IN SOA ns hm ( 1 ; serial\n 2 3\n 4 5 )\n\n  A 1.2.3.4 ; c\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].0, 1);
        assert_eq!(e[0].2, ["@", "IN", "SOA", "ns", "hm", "1", "2", "3", "4", "5"]);
        assert_eq!(e[1].0, 5);
        assert!(e[1].1);
    }

    #[test]
    fn quoted_strings_keep_spaces_and_escapes() {
        let e = entries("x TXT \"a b\\\" c\" d\\ e\n");
        assert_eq!(e[0].2, ["x", "TXT", "a b\\\" c", "d\\ e"]);
    }

    #[test]
    fn unterminated_string_and_paren_are_errors_with_line() {
        let mut toks = Vec::new();
        assert_eq!(
            Lexer::new("\n\nx TXT \"abc\n").next_entry(&mut toks).err(),
            Some((3, LexError::UnterminatedString))
        );
        assert_eq!(
            Lexer::new("x A ( 1.2.3.4\n").next_entry(&mut toks).err(),
            Some((1, LexError::UnbalancedParenthesis))
        );
    }
}
