//! SQL text as a sequence of statements, each with the line it starts on, so an error in a long
//! `.sql` file can name where it is, and the REPL can tell a finished statement (ended by `;`
//! outside quotes and comments) from one still being typed. Quotes follow what DataFusion's
//! parser accepts: `'…'` (with `''`), `E'…'` (with `\'`), `"…"`, `` `…` ``, `$tag$…$tag$`, `--`
//! comments and nested `/* … */` comments.

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptStatement {
    /// 1-based line of the statement's first character that is not blank or a comment.
    pub line: usize,
    /// 1-based column of that character.
    pub column: usize,
    /// The text, without the closing `;`.
    pub text: String,
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

/// What each character of the text is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Code,
    /// Inside a quoted string or identifier, quotes included.
    Quoted,
    Comment,
    /// A `;` that ends a statement.
    End,
}

struct Scan {
    chars: Vec<char>,
    classes: Vec<Class>,
    /// A quote or comment runs to the end of the text.
    open: bool,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn scan(sql: &str) -> Scan {
    let chars: Vec<char> = sql.chars().collect();
    let n = chars.len();
    let mut classes = vec![Class::Code; n];
    let mut open = false;
    let mut i = 0;
    let mark = |from: usize, to: usize, class: Class, classes: &mut Vec<Class>| {
        for slot in &mut classes[from..to.min(n)] {
            *slot = class;
        }
    };
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        match c {
            ';' => {
                classes[i] = Class::End;
                i += 1;
            }
            '-' if next == Some('-') => {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
                mark(start, i, Class::Comment, &mut classes);
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                loop {
                    if i >= n {
                        open = true;
                        break;
                    }
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                mark(start, i, Class::Comment, &mut classes);
            }
            '\'' | '"' | '`' => {
                // E'…' takes backslash escapes; the others double their quote.
                let escapes =
                    c == '\'' && i > 0 && matches!(chars[i - 1], 'e' | 'E') && (i < 2 || !is_word(chars[i - 2]));
                i += 1;
                loop {
                    if i >= n {
                        open = true;
                        break;
                    }
                    let escaped = escapes && chars[i] == '\\';
                    let doubled = chars[i] == c && chars.get(i + 1) == Some(&c);
                    if escaped || doubled {
                        i += 2;
                    } else if chars[i] == c {
                        i += 1;
                        break;
                    } else {
                        i += 1;
                    }
                }
                mark(start, i, Class::Quoted, &mut classes);
            }
            '$' if dollar_tag(&chars, i).is_some() => {
                let tag = dollar_tag(&chars, i).expect("checked");
                i += tag.len();
                loop {
                    if i >= n {
                        open = true;
                        break;
                    }
                    if chars[i..].starts_with(&tag) {
                        i += tag.len();
                        break;
                    }
                    i += 1;
                }
                mark(start, i, Class::Quoted, &mut classes);
            }
            _ => i += 1,
        }
    }
    Scan { chars, classes, open }
}

/// The `$tag$` opening a dollar-quoted string at `at` (not a `$1` parameter).
fn dollar_tag(chars: &[char], at: usize) -> Option<Vec<char>> {
    if at > 0 && is_word(chars[at - 1]) {
        return None;
    }
    let mut end = at + 1;
    while end < chars.len() && is_word(chars[end]) {
        end += 1;
    }
    let first = chars.get(at + 1)?;
    let tag_ok = end == at + 1 || !first.is_ascii_digit();
    (tag_ok && chars.get(end) == Some(&'$')).then(|| chars[at..=end].to_vec())
}

/// Splits `sql` into statements at each `;` outside quotes and comments. Blank statements (only
/// whitespace and comments) are dropped. A last statement without `;` is kept.
pub fn split(sql: &str) -> Vec<ScriptStatement> {
    let scan = scan(sql);
    let mut statements = Vec::new();
    let (mut line, mut column) = (1, 1);
    let mut start: Option<(usize, usize, usize)> = None;
    for (i, (&c, &class)) in scan.chars.iter().zip(&scan.classes).enumerate() {
        match class {
            Class::End => {
                if let Some((from, l, col)) = start.take() {
                    let text: String = scan.chars[from..i].iter().collect();
                    statements.push(ScriptStatement { line: l, column: col, text: text.trim_end().to_string() });
                }
            }
            Class::Code | Class::Quoted if start.is_none() && !c.is_whitespace() => start = Some((i, line, column)),
            _ => {}
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    if let Some((from, l, col)) = start {
        let text: String = scan.chars[from..].iter().collect();
        statements.push(ScriptStatement { line: l, column: col, text: text.trim_end().to_string() });
    }
    statements
}

/// What `sql` leaves open: used by the REPL to keep reading lines until a statement ends.
pub fn unfinished(sql: &str) -> Unfinished {
    let scan = scan(sql);
    if scan.open {
        return Unfinished::Quote;
    }
    let last_end = scan.classes.iter().rposition(|c| *c == Class::End).map_or(0, |i| i + 1);
    let pending = scan.chars[last_end..]
        .iter()
        .zip(&scan.classes[last_end..])
        .any(|(c, class)| matches!(class, Class::Code | Class::Quoted) && !c.is_whitespace());
    if pending { Unfinished::Statement } else { Unfinished::Nothing }
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
    fn escapes_dollar_quotes_backticks_and_nested_comments_hide_their_semicolons() {
        let sql = "SELECT E'it\\'s; ok' AS a; SELECT $$a;b$$, $t$x;$t$, $1; SELECT 1 AS `a;b` /* x /* y; */ z; */; SELECT 'a\\'; SELECT 2";
        let texts: Vec<String> = split(sql).into_iter().map(|s| s.text).collect();
        assert_eq!(
            texts,
            vec![
                "SELECT E'it\\'s; ok' AS a",
                "SELECT $$a;b$$, $t$x;$t$, $1",
                "SELECT 1 AS `a;b` /* x /* y; */ z; */",
                "SELECT 'a\\'",
                "SELECT 2",
            ]
        );
        assert_eq!(unfinished("SELECT E'it\\'s' AS x;"), Unfinished::Nothing);
        assert_eq!(unfinished("SELECT $$ ;"), Unfinished::Quote);
        assert_eq!(unfinished("SELECT 1 /* /* */ ;"), Unfinished::Quote);
    }

    #[test]
    fn a_statement_knows_its_column() {
        let statements = split("SELECT 1;   SELEC 2;\n  SELECT 3");
        assert_eq!(statements.iter().map(|s| (s.line, s.column)).collect::<Vec<_>>(), vec![(1, 1), (1, 13), (2, 3)]);
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
