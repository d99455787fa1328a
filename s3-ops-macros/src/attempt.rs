//! The body as one attempt, run inline: a labeled block in the method's own coroutine, its `?`
//! and `return` rewritten to leave the block with the attempt's result.
//!
//! ```text
//! // Input body:                      // Inline attempt:
//! let out = req.send().await?;        '__s3_ops_attempt: {
//! if out.is_empty() {                     let out = match req.send().await {
//!     return Ok(0);                           Ok(v) => v,
//! }                                           Err(e) => break '__s3_ops_attempt Err(From::from(e)),
//! Ok(out.len())                           };
//!                                         if out.is_empty() { break '__s3_ops_attempt Ok(0); }
//!                                         Ok(out.len())
//!                                     }
//! ```
//!
//! Why: an `async` block per attempt (the other form, in `expand.rs`) is a second coroutine per
//! method for rustc to type-check, borrow-check, lay out and lower; the inline form compiles
//! like the plain method (the compile-cost benchmark measures both). It keeps the semantics:
//! `?` converts with `From` as `?` does, `return` ends the attempt, `&mut self` and borrowed
//! arguments work, a moved owned argument is reported on the user's line.
//!
//! The body is inlined only when every way out of it is visible here. It falls back to the
//! `async` block when:
//! - it invokes a macro other than a well-known one of `std`, `core` or `alloc` written with a
//!   path from the crate root (`::std::format!`), whose arguments hold no `?`, `return`,
//!   `break`, `continue` or macro of their own. Any other macro may expand to a `return` or a
//!   `?` (`anyhow::bail!`, `tokio::try_join!`, a `macro_rules!` of the user's), which would
//!   leave the method instead of the attempt, skipping the retry and the outcome; and a bare
//!   name, even `format!` or `vec!`, may be the user's own (a `macro_rules! format` in scope, or
//!   a `use` of another crate's `write!`): the attribute runs before name resolution and cannot
//!   tell;
//! - a `break` or `continue` without a label sits outside the body's own loops (it would leave
//!   the retry loop; in the `async` block rustc rejects it, as it would in the plain method);
//! - it holds syntax syn keeps as tokens, which may hide a way out the same way;
//! - it does not parse as statements (rustc then reports the error on the user's tokens).
//!
//! `?` and `return` inside closures, `async` blocks and nested items belong to them and are left
//! alone. Where a rewritten `?` leads a statement and the expression goes on (`next()?.len();`),
//! or comes before a `let … else`'s `else`, the `match` goes in parentheses (syn's printer does
//! the second); so does a struct literal that a `?`'s operand starts with.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Item, Macro, Stmt};

/// The label of the block an inline attempt runs in.
const LABEL: &str = "'__s3_ops_attempt";

/// The body rewritten to run inline as a block (labeled [`LABEL`] when a `?` or `return` leaves
/// it), or `None` when it must run in an `async` block of its own.
pub(crate) fn inline(body: &TokenStream, span: Span) -> Option<TokenStream> {
    let label = syn::Lifetime::new(LABEL, Span::call_site()).to_token_stream();
    let (stmts, label_used) = rewrite_syntax_tree(body, &label)?;
    // Labeled only when something leaves it early: an unused label is a warning.
    let label = label_used.then_some(label);
    let colon = label.as_ref().map(|_| quote!(:));
    Some(quote_spanned!(span=> #label #colon { #stmts }))
}

/// The body parsed as statements and rewritten on the syntax tree; `None` when it does not
/// parse or cannot run inline.
fn rewrite_syntax_tree(body: &TokenStream, label: &TokenStream) -> Option<(TokenStream, bool)> {
    let mut stmts = syn::parse::Parser::parse2(Block::parse_within, body.clone()).ok()?;
    let mut rewriter = Rewriter {
        label: label.clone(),
        loop_depth: 0,
        inlinable: true,
        label_used: false,
    };
    for stmt in &mut stmts {
        rewriter.visit_stmt_mut(stmt);
    }
    if !rewriter.inlinable {
        return None;
    }
    let mut stmts_tokens = TokenStream::new();
    for stmt in &stmts {
        stmt.to_tokens(&mut stmts_tokens);
    }
    Some((stmts_tokens, rewriter.label_used))
}

/// `operand?` as a `match` that leaves the attempt with the converted error, spanned at the
/// `?`: a missing `From` conversion is reported there, as for `?`.
fn try_to_match(operand: TokenStream, question_mark: Span, label: &TokenStream) -> TokenStream {
    // The conversion `?` makes, marked as the macro's (located at the `?`): clippy's
    // `useless_conversion` would otherwise read it as written by hand, and an `#[allow]` on
    // every `?` costs rustc a lint-name lookup each.
    let convert = quote_spanned!(Span::call_site().located_at(question_mark)=>
        __s3_ops::ConvertFrom::from
    );
    quote_spanned! {question_mark=>
        match #operand {
            __s3_ops::ResultOk(__s3_ops_value) => __s3_ops_value,
            __s3_ops::ResultErr(__s3_ops_error) => {
                break #label __s3_ops::ResultErr(#convert(__s3_ops_error))
            }
        }
    }
}

/// `return` as `break 'attempt`: the value that follows, or none (`()`, which rustc reports
/// against the method's `Result` on the user's `return`), leaves the attempt.
fn return_to_break(return_token: Span, label: &TokenStream) -> TokenStream {
    quote_spanned!(return_token=> break #label)
}

struct Rewriter {
    label: TokenStream,
    /// How many of the body's own loops enclose the expression being visited.
    loop_depth: usize,
    /// Cleared on anything that makes inlining unsafe; the body then runs as an `async` block.
    inlinable: bool,
    /// Whether a `?` or `return` was rewritten to leave the block.
    label_used: bool,
}

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if !self.inlinable {
            return;
        }
        match expr {
            // Their `?` and `return` are their own.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Try(try_expr) => {
                parenthesize_leading(&mut try_expr.expr, |e| matches!(e, Expr::Struct(_)));
                self.visit_expr_mut(&mut try_expr.expr);
                self.label_used = true;
                let operand = try_expr.expr.to_token_stream();
                *expr = Expr::Verbatim(try_to_match(
                    operand,
                    try_expr.question_token.span,
                    &self.label,
                ));
            }
            Expr::Return(ret) => {
                self.label_used = true;
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                let mut tokens = return_to_break(ret.return_token.span, &self.label);
                ret.expr.to_tokens(&mut tokens);
                *expr = Expr::Verbatim(tokens);
            }
            Expr::Break(brk) if brk.label.is_none() && self.loop_depth == 0 => {
                self.inlinable = false;
            }
            Expr::Continue(cont) if cont.label.is_none() && self.loop_depth == 0 => {
                self.inlinable = false;
            }
            Expr::ForLoop(for_loop) => {
                self.visit_expr_mut(&mut for_loop.expr);
                self.in_loop(|this| this.visit_block_mut(&mut for_loop.body));
            }
            Expr::While(while_loop) => {
                self.visit_expr_mut(&mut while_loop.cond);
                self.in_loop(|this| this.visit_block_mut(&mut while_loop.body));
            }
            Expr::Loop(loop_expr) => self.in_loop(|this| this.visit_block_mut(&mut loop_expr.body)),
            // Syntax syn keeps as tokens (`builtin # offset_of(..)`, newer syntax than syn
            // knows) may hold a `?` or `return` this visitor would not see.
            Expr::Verbatim(_) => self.inlinable = false,
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Expr(expr, _) = stmt {
            // `next()? + 1;` rewritten would start with `match`, which rustc reads as a
            // statement of its own, leaving ` + 1` dangling: the `?` goes in parentheses, as
            // the token scan puts it.
            if !matches!(expr, Expr::Try(_)) {
                parenthesize_leading(expr, |e| matches!(e, Expr::Try(_)));
            }
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    /// A nested `fn`, `impl` or `mod` has control flow of its own.
    fn visit_item_mut(&mut self, _: &mut Item) {}

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        if !is_plain_macro(mac) {
            self.inlinable = false;
        }
    }
}

impl Rewriter {
    fn in_loop(&mut self, visit: impl FnOnce(&mut Self)) {
        self.loop_depth += 1;
        visit(self);
        self.loop_depth -= 1;
    }
}

/// Whether `mac` is one of the macros of `std`, `core` or `alloc` that expand to expressions
/// without control flow of their own, named from the crate root (`::std::format!(..)`, the one
/// spelling a user's own macro cannot take), called with arguments that hold no `?`, `return`,
/// `break`, `continue` or macro call.
fn is_plain_macro(mac: &Macro) -> bool {
    const CRATES: &[&str] = &["alloc", "core", "std"];
    const PLAIN: &[&str] = &[
        "assert",
        "assert_eq",
        "assert_ne",
        "cfg",
        "column",
        "concat",
        "dbg",
        "debug_assert",
        "debug_assert_eq",
        "debug_assert_ne",
        "env",
        "eprint",
        "eprintln",
        "file",
        "format",
        "format_args",
        "line",
        "matches",
        "module_path",
        "option_env",
        "panic",
        "print",
        "println",
        "stringify",
        "todo",
        "unimplemented",
        "unreachable",
        "vec",
        "write",
        "writeln",
    ];
    let path = &mac.path;
    let mut segments = path.segments.iter();
    let (Some(krate), Some(name), None) = (segments.next(), segments.next(), segments.next())
    else {
        return false;
    };
    let plain_segment = |segment: &syn::PathSegment, names: &[&str]| {
        segment.arguments.is_none() && names.iter().any(|n| segment.ident == n)
    };
    path.leading_colon.is_some()
        && plain_segment(krate, CRATES)
        && plain_segment(name, PLAIN)
        && !has_hidden_exit(&mac.tokens)
}

/// Whether macro arguments hold a way out (`?`, `return`, `break`, `continue`) or a macro call
/// (`name!(..)`, which may hide one): tokens only, so this errs on the side of "yes" (a `!`
/// after `if` counts as a call).
fn has_hidden_exit(tokens: &TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    tokens.iter().enumerate().any(|(i, token)| match token {
        TokenTree::Punct(punct) => match punct.as_char() {
            '?' => true,
            '!' => {
                i > 0
                    && matches!(tokens[i - 1], TokenTree::Ident(_))
                    && matches!(tokens.get(i + 1), Some(TokenTree::Group(_)))
            }
            _ => false,
        },
        TokenTree::Ident(ident) => ident == "return" || ident == "break" || ident == "continue",
        TokenTree::Group(group) => has_hidden_exit(&group.stream()),
        TokenTree::Literal(_) => false,
    })
}

/// Puts the expression that `expr` starts with (itself, its receiver, left operand, …) and
/// that `is` picks in parentheses, when there is one: `next()?.len()` becomes
/// `(next()?).len()`, so that the `match` a rewritten `?` becomes cannot end the statement
/// early, and `Req { .. }.send()?` becomes `(Req { .. }).send()?`, so that the `match`
/// cannot take the struct literal's braces for its own.
fn parenthesize_leading(expr: &mut Expr, is: fn(&Expr) -> bool) {
    if is(expr) {
        let inner = std::mem::replace(expr, Expr::Verbatim(TokenStream::new()));
        *expr = Expr::Paren(syn::ExprParen {
            attrs: Vec::new(),
            paren_token: syn::token::Paren::default(),
            expr: Box::new(inner),
        });
        return;
    }
    let first = match expr {
        Expr::MethodCall(call) => &mut *call.receiver,
        Expr::Field(field) => &mut *field.base,
        Expr::Await(await_expr) => &mut *await_expr.base,
        Expr::Try(try_expr) => &mut *try_expr.expr,
        Expr::Index(index) => &mut *index.expr,
        Expr::Cast(cast) => &mut *cast.expr,
        Expr::Binary(binary) => &mut *binary.left,
        Expr::Assign(assign) => &mut *assign.left,
        Expr::Call(call) => &mut *call.func,
        Expr::Range(range) => match range.start.as_deref_mut() {
            Some(start) => start,
            None => return,
        },
        _ => return,
    };
    parenthesize_leading(first, is);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inlined(body: &str) -> Option<String> {
        let body: TokenStream = body.parse().expect("test bodies are tokens");
        inline(&body, Span::call_site()).map(|tokens| tokens.to_string())
    }

    #[test]
    fn question_mark_and_return_leave_the_labeled_block() {
        let out = inlined("let n = send().await?; if n == 0 { return Ok(1); } Ok(n)").unwrap();
        assert!(out.starts_with("'__s3_ops_attempt : {"), "{out}");
        assert!(!out.contains('?') && !out.contains("return"), "{out}");
        assert_eq!(out.matches("break '__s3_ops_attempt").count(), 2, "{out}");
    }

    #[test]
    fn a_body_without_early_exits_is_a_plain_block() {
        let out = inlined("let key = ::std::format!(\"{id}.pdf\"); Ok(key)").unwrap();
        assert!(
            out.starts_with('{') && !out.contains("'__s3_ops_attempt"),
            "{out}"
        );
    }

    #[test]
    fn closures_async_blocks_and_items_keep_their_own_exits() {
        let out = inlined(
            "let f = |x: Result<u8, E>| -> Result<u8, E> { let v = x?; return Ok(v) }; \
             let g = async { h().await?; Ok::<_, E>(()) }; \
             fn nested() -> Result<(), E> { k()?; return Ok(()) } \
             Ok(())",
        )
        .unwrap();
        assert_eq!(out.matches('?').count(), 3, "{out}");
        assert_eq!(out.matches("return").count(), 2, "{out}");
        assert!(!out.contains("'__s3_ops_attempt"), "{out}");
    }

    #[test]
    fn loops_of_the_body_keep_their_break_and_continue() {
        let out = inlined("for x in xs { if x { continue; } break; } while a { break } Ok(())");
        assert!(out.is_some());
    }

    #[test]
    fn macros_that_may_hide_an_exit_keep_the_async_block() {
        for body in [
            "anyhow::bail!(\"no\")",
            "let (a, b) = tokio::try_join!(x, y)?; Ok(a + b)",
            // Bare names and relative paths may be the user's own macros.
            "let key = format!(\"{id}.pdf\"); Ok(key)",
            "error!(\"failed\"); Ok(())",
            "write!(out, \"x\")?; Ok(())",
            "let v = vec![1]; Ok(v)",
            "std::println!(\"x\"); Ok(())",
            "tracing::info!(key, \"stored\"); Ok(())",
            "::tracing::info!(key, \"stored\"); Ok(())",
            "::my_crate::format!(\"x\"); Ok(())",
            "::std::fs::format!(\"x\"); Ok(())",
            "::std::try_join!(a, b); Ok(())",
            // A known macro whose arguments may leave the attempt.
            "::std::println!(\"{}\", f()?); Ok(())",
            "::std::assert!(xs.iter().all(|x| { return true; })); Ok(())",
            "::std::println!(\"{}\", fail!()); Ok(())",
            "::std::println!(\"{}\", ::std::format!(\"x\")); Ok(())",
            // Inside the body's own loop or closure a macro may still hide a `return`.
            "for x in xs { error!(x); } Ok(())",
            "let r = { my_macro!() }; Ok(r)",
        ] {
            assert_eq!(inlined(body), None, "{body}");
        }
    }

    #[test]
    fn known_macros_named_from_the_crate_root_are_inlined() {
        for body in [
            "let key = ::std::format!(\"{id}.pdf\"); Ok(key)",
            "let v = ::std::vec![1, 2]; ::core::assert!(!v.is_empty()); Ok(v)",
            "::std::println!(\"{} {}\", a.b(), c + 1); Ok(())",
            "::core::write!(out, \"{x}\").map_err(E::from)?; Ok(())",
            "let ok = ::core::matches!(x, Some(1) | None); Ok(ok)",
            "let v = ::alloc::vec![0u8; 4]; Ok(v)",
        ] {
            assert!(inlined(body).is_some(), "{body}");
        }
    }

    #[test]
    fn exits_the_macro_cannot_rewrite_keep_the_async_block() {
        assert_eq!(inlined("break;"), None);
        assert_eq!(inlined("let o = builtin # offset_of(S, a); Ok(o)"), None);
        assert_eq!(inlined("if a { continue }"), None);
        assert!(inlined("let n = next()? + 1; out.collect().await?; Ok(n)").is_some());
        // Left to the `async` block, as written, for rustc to report on the user's tokens.
        assert_eq!(inlined("let = ;"), None);
    }

    #[test]
    fn a_question_mark_that_leads_a_statement_and_goes_on_is_parenthesized() {
        for (body, rewritten) in [
            ("next()? + 1; Ok(())", "(match next () {"),
            (
                "out.collect().await?.into_bytes(); Ok(())",
                "(match out . collect () . await {",
            ),
            ("{ a()? as u64 }", "{ (match a () {"),
        ] {
            let out = inlined(body).unwrap();
            assert!(out.contains(rewritten), "{body}: {out}");
        }
        // Alone in its statement, it needs none.
        let out = inlined("send().await?; Ok(())").unwrap();
        assert!(out.contains("{ match send () . await {"), "{out}");
    }

    #[test]
    fn struct_literals_and_question_marks_that_would_parse_apart_are_parenthesized() {
        for (body, rewritten) in [
            ("let f = |x| x; next()?.len(); Ok(())", "(match next () {"),
            ("let f = |x| x; a()? as u64", "(match a () {"),
            (
                "Req { a: 1 }.send().await?; Ok(())",
                "match (Req { a : 1 }) . send () . await {",
            ),
        ] {
            let out = inlined(body).unwrap_or_else(|| panic!("not inlined: {body}"));
            assert!(out.contains(rewritten), "{body}: {out}");
        }
    }
}
