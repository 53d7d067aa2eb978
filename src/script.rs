//! SQL text as a sequence of statements, each with the line it starts on, so an error in a long
//! `.sql` file can name where it is, and the REPL can tell a finished statement (ended by `;`
//! outside quotes and comments) from one still being typed.

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptStatement {
    /// 1-based line of the statement's first character that is not blank or a comment.
    pub line: usize,
    /// The text, without the closing `;`.
    pub text: String,
}

/// Where the scanner is.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Code,
    /// Inside `'…'` (`''` escapes a quote).
    Single,
    /// Inside `"…"`.
    Double,
    /// After `--`, until the end of the line.
    LineComment,
    /// Inside `/* … */`.
    BlockComment,
}

/// What is left open at the end of some SQL text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfinished {
    /// Everything is closed: no statement is waiting for its `;`.
    Nothing,
    /// A statement has text but no `;` yet.
    Statement,
    /// A quote or a block comment is still open.
    Quote,
}

/// Splits `sql` into statements at each `;` outside quotes and comments. Blank statements (only
/// whitespace and comments) are dropped. A last statement without `;` is kept.
pub fn split(sql: &str) -> Vec<ScriptStatement> {
    let mut statements = Vec::new();
    let mut scan = Scanner::default();
    let mut current = String::new();
    let mut start_line = None;
    let mut line = 1;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let (consumed_next, ends_statement, is_code) = scan.step(c, next);
        if ends_statement {
            if let Some(start) = start_line.take() {
                statements.push(ScriptStatement { line: start, text: current.trim().to_string() });
            }
            current.clear();
        } else {
            if is_code && !c.is_whitespace() && start_line.is_none() {
                start_line = Some(line);
            }
            // Comments before a statement are not part of it.
            if start_line.is_some() {
                current.push(c);
            }
            // The second character of `--`, `/*`, `*/` or `''`: never a newline.
            if let Some(n) = consumed_next.then_some(next).flatten() {
                if start_line.is_some() {
                    current.push(n);
                }
                chars.next();
            }
        }
        if c == '\n' {
            line += 1;
        }
    }
    if let Some(start) = start_line {
        statements.push(ScriptStatement { line: start, text: current.trim().to_string() });
    }
    statements
}

/// What `sql` leaves open: used by the REPL to keep reading lines until a statement ends.
pub fn unfinished(sql: &str) -> Unfinished {
    let mut scan = Scanner::default();
    let mut pending = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let (consumed_next, ends_statement, is_code) = scan.step(c, next);
        if consumed_next {
            chars.next();
        }
        if ends_statement {
            pending = false;
        } else if is_code && !c.is_whitespace() {
            pending = true;
        }
    }
    match scan.state {
        State::Single | State::Double | State::BlockComment => Unfinished::Quote,
        _ if pending => Unfinished::Statement,
        _ => Unfinished::Nothing,
    }
}

#[derive(Default)]
struct Scanner {
    state: State,
}

impl Scanner {
    /// Advances over `c` (peeking at `next`). Returns whether `next` was consumed too, whether
    /// `c` ends a statement, and whether `c` is statement text (not comment).
    fn step(&mut self, c: char, next: Option<char>) -> (bool, bool, bool) {
        match self.state {
            State::Code => match (c, next) {
                (';', _) => (false, true, true),
                ('\'', _) => {
                    self.state = State::Single;
                    (false, false, true)
                }
                ('"', _) => {
                    self.state = State::Double;
                    (false, false, true)
                }
                ('-', Some('-')) => {
                    self.state = State::LineComment;
                    (true, false, false)
                }
                ('/', Some('*')) => {
                    self.state = State::BlockComment;
                    (true, false, false)
                }
                _ => (false, false, true),
            },
            State::Single => {
                if c == '\'' {
                    if next == Some('\'') {
                        return (true, false, true);
                    }
                    self.state = State::Code;
                }
                (false, false, true)
            }
            State::Double => {
                if c == '"' {
                    self.state = State::Code;
                }
                (false, false, true)
            }
            State::LineComment => {
                if c == '\n' {
                    self.state = State::Code;
                }
                (false, false, false)
            }
            State::BlockComment => {
                if c == '*' && next == Some('/') {
                    self.state = State::Code;
                    return (true, false, false);
                }
                (false, false, false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_and_texts(sql: &str) -> Vec<(usize, String)> {
        split(sql).into_iter().map(|s| (s.line, s.text)).collect()
    }

    #[test]
    fn statements_split_at_semicolons_outside_quotes_and_comments() {
        let sql = "-- header; not a statement\nSELECT 'a;b', \"c;d\"; /* x; y */\n\nSELECT 2\n-- ; still a comment\n;SELECT 'it''s;'";
        assert_eq!(
            lines_and_texts(sql),
            vec![
                (2, "SELECT 'a;b', \"c;d\"".to_string()),
                (4, "SELECT 2\n-- ; still a comment".to_string()),
                (6, "SELECT 'it''s;'".to_string()),
            ]
        );
    }

    #[test]
    fn blank_and_comment_only_statements_are_dropped() {
        assert!(split(" ;\n-- only a comment\n; /* c */ ;").is_empty());
        assert_eq!(lines_and_texts("\n\n  SELECT 1"), vec![(3, "SELECT 1".to_string())]);
    }

    #[test]
    fn lines_count_newlines_inside_comments_and_strings() {
        let sql = "/* one\ntwo */ SELECT 'a\nb';\n\nSELECT 3;";
        assert_eq!(split(sql).iter().map(|s| s.line).collect::<Vec<_>>(), vec![2, 5]);
    }

    #[test]
    fn unfinished_tells_an_open_statement_from_an_open_quote() {
        assert_eq!(unfinished("SELECT 1;"), Unfinished::Nothing);
        assert_eq!(unfinished("SELECT 1; -- done"), Unfinished::Nothing);
        assert_eq!(unfinished(""), Unfinished::Nothing);
        assert_eq!(unfinished("SELECT 1\nFROM t"), Unfinished::Statement);
        assert_eq!(unfinished("SELECT ';"), Unfinished::Quote);
        assert_eq!(unfinished("SELECT 1 /* ;"), Unfinished::Quote);
        assert_eq!(unfinished("SELECT 1; SELECT"), Unfinished::Statement);
    }
}
