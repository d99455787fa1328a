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
//! - it contains a macro that could expand to `return` or `?` (`bail!`, `ensure!`,
//!   `try_join!`, `select!`…): only well-known macros whose arguments hold neither are inlined;
//! - a `break` or `continue` without a label sits outside the body's own loops (it would leave
//!   the retry loop; in the `async` block rustc rejects it, as it would in the plain method);
//! - a `?` applies to an expression that starts with a struct literal, or a statement starts
//!   with a `?` expression and goes on (`next()? + 1;`): rewritten, either would parse apart;
//! - it does not parse as statements (rustc then reports the syntax error on the user's tokens).
//!
//! `?` and `return` inside closures, `async` blocks and nested items belong to them and are left
//! alone.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote_spanned, ToTokens};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Item, Macro, Stmt};

/// The label of the block an inline attempt runs in.
const LABEL: &str = "'__s3_ops_attempt";

/// The body rewritten to run inline as a block (labeled [`LABEL`] when a `?` or `return` leaves
/// it), or `None` when it must run in an `async` block of its own.
pub(crate) fn inline(body: &TokenStream, span: Span) -> Option<TokenStream> {
    let mut stmts = syn::parse::Parser::parse2(Block::parse_within, body.clone()).ok()?;
    let mut rewriter = Rewriter {
        label: syn::Lifetime::new(LABEL, Span::call_site()),
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
    // Labeled only when something leaves it early: an unused label is a warning.
    let label = rewriter.label_used.then_some(rewriter.label);
    let colon = label.as_ref().map(|_| quote::quote!(:));
    Some(quote_spanned!(span=> #label #colon { #stmts_tokens }))
}

struct Rewriter {
    label: syn::Lifetime,
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
            // `Request { .. }.send()?` rewritten would be `match Request { .. }`, whose braces
            // rustc reads as the `match` block.
            Expr::Try(try_expr) if leads_with(&try_expr.expr, |e| matches!(e, Expr::Struct(_))) => {
                self.inlinable = false;
            }
            Expr::Try(try_expr) => {
                self.visit_expr_mut(&mut try_expr.expr);
                self.label_used = true;
                let span = try_expr.question_token.span;
                let operand = &try_expr.expr;
                let label = &self.label;
                // Spanned at the `?`: a missing `From` conversion is reported there, as for `?`.
                *expr = Expr::Verbatim(quote_spanned! {span=>
                    match #operand {
                        ::core::result::Result::Ok(__s3_ops_value) => __s3_ops_value,
                        ::core::result::Result::Err(__s3_ops_error) => {
                            // The conversion `?` makes, which clippy reads as written by hand.
                            #[allow(clippy::useless_conversion)]
                            break #label ::core::result::Result::Err(
                                ::core::convert::From::from(__s3_ops_error),
                            );
                        }
                    }
                });
            }
            Expr::Return(ret) => {
                self.label_used = true;
                let span = ret.return_token.span;
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                let label = &self.label;
                *expr = match &ret.expr {
                    Some(value) => Expr::Verbatim(quote_spanned!(span=> break #label #value)),
                    // Leaves the attempt with `()`: rustc reports the mismatch with the
                    // method's `Result` on the user's `return`.
                    None => Expr::Verbatim(quote_spanned!(span=> break #label ())),
                };
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
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Expr(expr, _) = stmt {
            // `next()? + 1;` rewritten would start with `match`, which rustc reads as a
            // statement of its own, leaving ` + 1` dangling.
            let is_try: fn(&Expr) -> bool = |e| matches!(e, Expr::Try(_));
            if !is_try(expr) && leads_with(expr, is_try) {
                self.inlinable = false;
                return;
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

/// Macros of `std`, `core`, `alloc` and `tracing` that expand to expressions without control
/// flow of their own, called with arguments that hold no `?`, `return`, `break` or `continue`.
/// Any other macro may hide a `return` (`anyhow::bail!`) or a `?` (`tokio::try_join!`) that
/// would leave the method instead of the attempt.
fn is_plain_macro(mac: &Macro) -> bool {
    const PLAIN: &[&str] = &[
        "assert",
        "assert_eq",
        "assert_ne",
        "concat",
        "debug",
        "debug_assert",
        "debug_assert_eq",
        "debug_assert_ne",
        "debug_span",
        "error",
        "error_span",
        "eprint",
        "eprintln",
        "format",
        "format_args",
        "info",
        "info_span",
        "matches",
        "panic",
        "print",
        "println",
        "stringify",
        "todo",
        "trace",
        "trace_span",
        "unimplemented",
        "unreachable",
        "vec",
        "warn",
        "warn_span",
        "write",
        "writeln",
    ];
    let Some(name) = mac.path.segments.last() else {
        return false;
    };
    PLAIN.iter().any(|plain| name.ident == plain) && !has_control_flow(&mac.tokens)
}

fn has_control_flow(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|token| match token {
        TokenTree::Punct(punct) => punct.as_char() == '?',
        TokenTree::Ident(ident) => ident == "return" || ident == "break" || ident == "continue",
        TokenTree::Group(group) => has_control_flow(&group.stream()),
        TokenTree::Literal(_) => false,
    })
}

/// Whether `expr` or the expression it starts with (its receiver, left operand, …) is one that
/// `is` picks: whether its tokens begin with that expression's.
fn leads_with(expr: &Expr, is: fn(&Expr) -> bool) -> bool {
    if is(expr) {
        return true;
    }
    let first = match expr {
        Expr::MethodCall(call) => &call.receiver,
        Expr::Field(field) => &field.base,
        Expr::Await(await_expr) => &await_expr.base,
        Expr::Try(try_expr) => &try_expr.expr,
        Expr::Index(index) => &index.expr,
        Expr::Cast(cast) => &cast.expr,
        Expr::Binary(binary) => &binary.left,
        Expr::Assign(assign) => &assign.left,
        Expr::Call(call) => &call.func,
        Expr::Range(range) => match &range.start {
            Some(start) => start,
            None => return false,
        },
        _ => return false,
    };
    leads_with(first, is)
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
        let out = inlined("let key = format!(\"{id}.pdf\"); Ok(key)").unwrap();
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
        assert_eq!(inlined("anyhow::bail!(\"no\")"), None);
        assert_eq!(
            inlined("let (a, b) = tokio::try_join!(x, y)?; Ok(a + b)"),
            None
        );
        assert_eq!(inlined("println!(\"{}\", f()?); Ok(())"), None);
        assert!(inlined("tracing::info!(key, \"stored\"); Ok(vec![1])").is_some());
    }

    #[test]
    fn exits_the_macro_cannot_rewrite_keep_the_async_block() {
        assert_eq!(inlined("break;"), None);
        assert_eq!(inlined("if a { continue }"), None);
        assert_eq!(inlined("Req { a: 1 }.send().await?; Ok(())"), None);
        assert_eq!(inlined("next()? + 1; Ok(())"), None);
        assert_eq!(inlined("out.collect().await?.into_bytes(); Ok(())"), None);
        assert_eq!(inlined("{ a()? as u64 }"), None);
        assert!(inlined("let n = next()? + 1; out.collect().await?; Ok(n)").is_some());
        assert_eq!(inlined("let = ;"), None);
    }
}
