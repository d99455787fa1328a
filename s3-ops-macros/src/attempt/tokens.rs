//! The fast path of `attempt.rs`: the body rewritten token by token, without a syntax tree.
//!
//! Most method bodies are statements, `?`, `return`, `if`/`match` and calls. For those, every
//! `?` can be rewritten by walking back from it over the postfix chain it ends
//! (`self.client.get_object().key(k).send().await?`), and every `return` by replacing the
//! keyword: nothing needs syn's full expression parser, which is most of what the attribute
//! cost rustc per method (BENCHMARKS.md, compile cost). Anything this file cannot read with
//! certainty (a closure, an `async` block, a nested item, a macro other than the well-known
//! ones, an unlabeled `break`, a `?` after a generic or block expression) makes it answer
//! [`Scan::Unsure`], and `attempt.rs` asks the syntax-tree rewriter instead: this path only
//! ever handles bodies the other would inline the same way.

use proc_macro2::{Delimiter, Group, Ident, Spacing, Span, TokenStream, TokenTree};

use super::{is_plain_macro, return_to_break, try_to_match};

/// What the scan made of the body.
pub(super) enum Scan {
    /// The rewritten statements, and whether a rewritten `?` or `return` leaves the block.
    Inline(TokenStream, bool),
    /// Something only a syntax tree tells apart.
    Unsure,
}

/// Scans the body's statements.
pub(super) fn scan(body: &TokenStream, label: &TokenStream) -> Scan {
    let mut scanner = Scanner {
        label,
        label_used: false,
    };
    match scanner.level(body.clone(), true) {
        Some(None) => Scan::Inline(body.clone(), false),
        Some(Some(tokens)) => Scan::Inline(tokens.into_iter().collect(), scanner.label_used),
        None => Scan::Unsure,
    }
}

/// What an identifier is to the scan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    /// A name, or a keyword that stands where a path may (`self`, `Self`, `super`, `crate`).
    Name,
    /// A keyword after which an expression starts (a `|` there opens a closure).
    Keyword,
    /// A keyword that starts something with control flow of its own (a closure, an `async`
    /// block, a nested item) or that this scan does not follow.
    Unsure,
}

/// One `match`, not a search through lists: this runs for every identifier of every body.
fn word(name: &str) -> Word {
    match name {
        "async" | "const" | "enum" | "fn" | "impl" | "mod" | "move" | "static" | "struct"
        | "trait" | "union" | "yield" | "try" | "gen" | "become" => Word::Unsure,
        "as" | "box" | "break" | "else" | "if" | "in" | "let" | "loop" | "match" | "mut"
        | "ref" | "return" | "unsafe" | "where" | "while" | "for" | "dyn" | "type" | "use"
        | "pub" | "extern" | "continue" | "await" => Word::Keyword,
        _ => Word::Name,
    }
}

fn word_of(ident: &Ident) -> Word {
    word(&ident.to_string())
}

struct Scanner<'a> {
    label: &'a TokenStream,
    label_used: bool,
}

impl Scanner<'_> {
    /// One token level (the body, or a group's contents): `Some(None)` when nothing in it
    /// changes, `Some(Some(tokens))` rewritten, `None` when unsure. `statements` is whether the
    /// level holds statements (a block), where an expression led by a rewritten `?` needs
    /// parentheses not to be read as a statement of its own.
    ///
    /// A group without `?` or `return` is passed on as it came: in a proc macro a group is a
    /// handle to rustc's tokens, which a rebuilt one would copy token by token, both ways.
    fn level(&mut self, tokens: TokenStream, statements: bool) -> Option<Option<Vec<TokenTree>>> {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
        let mut changed = false;
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => {
                    match self.level(group.stream(), group.delimiter() == Delimiter::Brace)? {
                        None => out.push(tokens[i].clone()),
                        Some(inner) => {
                            changed = true;
                            let mut rewritten =
                                Group::new(group.delimiter(), inner.into_iter().collect());
                            rewritten.set_span(group.span());
                            out.push(TokenTree::Group(rewritten));
                        }
                    }
                }
                TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    let word = word(&name);
                    if is_lifetime(&tokens, i) {
                        out.push(tokens[i].clone());
                    } else if word == Word::Unsure {
                        return None;
                    } else if name == "break" || name == "continue" {
                        // A labeled one targets a loop of the body; an unlabeled one needs to
                        // know the body's loops, which the syntax tree does.
                        if !matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '\'')
                        {
                            return None;
                        }
                        out.push(tokens[i].clone());
                    } else if name == "return" {
                        changed = true;
                        self.label_used = true;
                        out.extend(return_to_break(ident.span(), self.label));
                    } else if word == Word::Name && is_macro_call(&tokens, i) {
                        let TokenTree::Group(args) = &tokens[i + 2] else {
                            unreachable!("is_macro_call checked the group")
                        };
                        if !is_plain_macro(ident, &args.stream()) {
                            return None;
                        }
                        // The arguments of a plain macro hold no `?` or `return`: as written.
                        out.extend(tokens[i..i + 3].iter().cloned());
                        i += 3;
                        continue;
                    } else {
                        out.push(tokens[i].clone());
                    }
                }
                TokenTree::Punct(punct) => match punct.as_char() {
                    '?' => {
                        let start = operand_start(&out)?;
                        let operand: TokenStream = out.drain(start..).collect();
                        changed = true;
                        self.label_used = true;
                        let mut rewritten = try_to_match(operand, punct.span(), self.label);
                        // `next()?.len();` rewritten would start with `match`, which rustc
                        // reads as a statement of its own: parenthesized when the expression
                        // starts a statement and goes on after the `?`.
                        // So is the initializer of a `let … else`, which may not end with `}`.
                        let (goes_on, before_else) = match tokens.get(i + 1) {
                            None => (false, false),
                            Some(TokenTree::Punct(next)) => (next.as_char() != ';', false),
                            Some(TokenTree::Ident(next)) => (true, next == "else"),
                            Some(_) => (true, false),
                        };
                        if before_else || (statements && goes_on && starts_statement(&out)) {
                            let mut group = Group::new(Delimiter::Parenthesis, rewritten);
                            group.set_span(Span::call_site().located_at(punct.span()));
                            rewritten = TokenTree::Group(group).into();
                        }
                        out.extend(rewritten);
                    }
                    // A `|` where an expression starts opens a closure, whose `?` and `return`
                    // are its own; after an operand it is `|`, `||` or `|=`.
                    '|' => {
                        if !out.last().is_some_and(|last| ends_operand(&out, last)) {
                            return None;
                        }
                        out.push(tokens[i].clone());
                        if punct.spacing() == Spacing::Joint {
                            // The second `|` of `||`, or the `=` of `|=`.
                            i += 1;
                            out.extend(tokens.get(i).cloned());
                        }
                    }
                    _ => out.push(tokens[i].clone()),
                },
                TokenTree::Literal(_) => out.push(tokens[i].clone()),
            }
            i += 1;
        }
        Some(changed.then_some(out))
    }
}

/// Whether `tokens[i]` is the name of a lifetime or label (`'a`).
fn is_lifetime(tokens: &[TokenTree], i: usize) -> bool {
    i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '\'')
}

/// `name ! (..)`, `name ! [..]` or `name ! {..}`, where `name` (`tokens[i]`) is a name, not
/// a keyword (`return !x`).
fn is_macro_call(tokens: &[TokenTree], i: usize) -> bool {
    let bang = matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!' && p.spacing() == Spacing::Alone);
    bang && matches!(tokens.get(i + 2), Some(TokenTree::Group(_)))
}

/// Whether the rewritten tokens so far end where a statement starts: at the start of the
/// block, after a `;`, or after a block.
fn starts_statement(out: &[TokenTree]) -> bool {
    match out.last() {
        None => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ';',
        Some(TokenTree::Group(g)) => g.delimiter() == Delimiter::Brace,
        Some(_) => false,
    }
}

/// Whether `last` (the last of `out`) ends an operand, so that what follows is a binary
/// operator or a postfix, not the start of an expression.
fn ends_operand(out: &[TokenTree], last: &TokenTree) -> bool {
    match last {
        TokenTree::Ident(ident) => !is_lifetime(out, out.len() - 1) && word_of(ident) == Word::Name,
        TokenTree::Literal(_) => true,
        TokenTree::Group(group) => group.delimiter() != Delimiter::Brace,
        TokenTree::Punct(punct) => punct.as_char() == '?',
    }
}

/// Where the operand of a `?` that follows `out` starts: the postfix chain `out` ends with
/// (`a.b(c)[d].await`, `path::to::f(x)`, `m!(..)`, `x.parse::<u8>()`). `None` when the chain
/// contains what only a parser reads right (a block, a struct literal, generics of a path).
fn operand_start(out: &[TokenTree]) -> Option<usize> {
    let mut i = out.len();
    loop {
        // An element of the chain ends at `i`.
        let last = out.get(i.checked_sub(1)?)?;
        match last {
            TokenTree::Punct(p) if p.as_char() == '?' => i -= 1,
            TokenTree::Group(group) if group.delimiter() != Delimiter::Brace => {
                i -= 1;
                match out.get(i.wrapping_sub(1)) {
                    // `m!(..)`: the macro's path follows.
                    Some(TokenTree::Punct(p)) if p.as_char() == '!' && i >= 2 => {
                        i -= 1;
                        i = path_start(out, i)?;
                        return Some(i);
                    }
                    // Arguments of a call or an index: the callee comes next.
                    Some(prev) if ends_operand(&out[..i], prev) => {}
                    // `f::<T>(..)`: the turbofish and the path before it.
                    Some(TokenTree::Punct(p)) if p.as_char() == '>' => {
                        i = turbofish_start(out, i)?;
                        i = path_start(out, i)?;
                        if !after_dot(out, &mut i) {
                            return Some(i);
                        }
                    }
                    // A parenthesized or array expression stands on its own.
                    _ => return Some(i),
                }
            }
            TokenTree::Ident(ident) => {
                if is_lifetime(out, i - 1) || (word_of(ident) != Word::Name && ident != "await") {
                    return None;
                }
                i = path_start(out, i)?;
                if !after_dot(out, &mut i) {
                    return Some(i);
                }
            }
            TokenTree::Literal(_) => {
                i -= 1;
                // `.0`: a tuple field.
                if !after_dot(out, &mut i) {
                    return Some(i);
                }
            }
            _ => return None,
        }
    }
}

/// Steps over a `.` before `i`; `true` when there was one (a field, method or `.await`, whose
/// receiver comes next).
fn after_dot(out: &[TokenTree], i: &mut usize) -> bool {
    match out.get(i.wrapping_sub(1)) {
        Some(TokenTree::Punct(p)) if p.as_char() == '.' && p.spacing() == Spacing::Alone => {
            // `..` is a range, not a field access.
            if matches!(out.get(i.wrapping_sub(2)), Some(TokenTree::Punct(q)) if q.as_char() == '.')
            {
                return false;
            }
            *i -= 1;
            true
        }
        _ => false,
    }
}

/// The start of the path whose last segment ends at `end` (`a::b::c`, `::a::b`).
fn path_start(out: &[TokenTree], end: usize) -> Option<usize> {
    let mut i = end.checked_sub(1)?;
    if !matches!(out[i], TokenTree::Ident(_)) {
        return None;
    }
    while is_path_separator(out, i) {
        match out.get(i.wrapping_sub(3)) {
            Some(TokenTree::Ident(ident)) if word_of(ident) == Word::Name => i -= 3,
            // `<T as Trait>::f`, `Vec::<u8>::new`: generics only the parser reads right.
            Some(TokenTree::Punct(p)) if p.as_char() == '>' => return None,
            // A leading `::`.
            _ => return Some(i - 2),
        }
    }
    Some(i)
}

/// Whether `out[i - 2..i]` is `::`.
fn is_path_separator(out: &[TokenTree], i: usize) -> bool {
    i >= 2
        && matches!(&out[i - 2], TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && matches!(&out[i - 1], TokenTree::Punct(p) if p.as_char() == ':')
}

/// The start of the `::<..>` that ends at `end` (its `>`), or `None` when it is not a plain
/// turbofish.
fn turbofish_start(out: &[TokenTree], end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = end;
    while i > 0 {
        i -= 1;
        let TokenTree::Punct(p) = &out[i] else {
            continue;
        };
        match p.as_char() {
            '>' => {
                // `->` in `Fn(A) -> B`, `>=`, `>>=`: leave these to the parser.
                if matches!(out.get(i.wrapping_sub(1)), Some(TokenTree::Punct(q)) if q.spacing() == Spacing::Joint && q.as_char() != '>')
                {
                    return None;
                }
                depth += 1;
            }
            '<' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return is_path_separator(out, i).then_some(i - 2);
                }
            }
            ':' | ',' | '&' | '\'' | '_' => {}
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    fn scanned(body: &str) -> Option<String> {
        let label = syn::Lifetime::new(super::super::LABEL, Span::call_site()).to_token_stream();
        match scan(&body.parse().expect("test bodies are tokens"), &label) {
            Scan::Inline(tokens, _) => Some(tokens.to_string()),
            Scan::Unsure => None,
        }
    }

    /// Bodies as methods that call S3 write them: the token scan reads them, and rewrites them
    /// exactly as the syntax tree does.
    #[test]
    fn common_bodies_are_read_as_the_syntax_tree_reads_them() {
        for body in [
            "let key = format!(\"{id}/{n}\"); \
             let out = self.client.put_object().bucket(&self.bucket).key(&key) \
                 .body(ByteStream::from_static(b\"x\")).send().await?; Ok(key)",
            "let out = self.client.get_object().key(k).send().await?; \
             let bytes = out.body.collect().await?.into_bytes(); \
             if bytes.is_empty() || bytes.len() > MAX { return Err(S3Error::empty()); } \
             Ok(bytes.to_vec())",
            "let n: u64 = text.parse::<u64>()?; let m = ::std::fs::read(p)?.len(); \
             match kind { Kind::A | Kind::B => Ok(n + m as u64), _ => return Ok(0) }",
            "let v = self.items[0].1?; let w = (a, b).0?; let s = &mut x.y?; \
             tracing::info!(key = %k, \"stored\"); Ok(v + w + *s)",
            "let Some(x) = next().await? else { return Ok(()) }; Ok(x)",
            "'outer: for x in xs { if x.ready()? { break 'outer; } } Ok(())",
            "next()? + 1; out.collect().await?.into_bytes(); { a()? as u64 }; Ok(())",
        ] {
            let tokens = scanned(body).unwrap_or_else(|| panic!("unsure of {body}"));
            let label = syn::Lifetime::new(super::super::LABEL, Span::call_site());
            let tree =
                super::super::rewrite_syntax_tree(&body.parse().unwrap(), &label.to_token_stream())
                    .expect("the syntax tree inlines it")
                    .0
                    .to_string();
            // The same tokens; only the printing of `::<` differs (joint here, spaced there).
            let unspaced = |text: String| text.replace(' ', "");
            assert_eq!(unspaced(tokens), unspaced(tree), "{body}");
        }
    }

    #[test]
    fn what_only_a_syntax_tree_tells_apart_is_left_to_it() {
        for body in [
            "let f = |x| x?; Ok(())",
            "let f = move || { g()?; Ok(()) }; Ok(())",
            "let h = async { g().await?; Ok(()) }; h.await",
            "fn inner() -> Result<(), E> { g()?; Ok(()) } inner()",
            "loop { if done()? { break; } } Ok(())",
            "Req { a: 1 }.send().await?; Ok(())",
            "Vec::<u8>::new()?; Ok(())",
            "<T as Tr>::f()?; Ok(())",
            "let p: *const u8 = raw()?; Ok(())",
            "anyhow::bail!(\"no\")",
            "if a { b } else { c }?; Ok(())",
        ] {
            assert_eq!(scanned(body), None, "{body}");
        }
    }
}
