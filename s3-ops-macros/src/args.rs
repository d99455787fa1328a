//! The attribute's grammar: `name = value` pairs, each value kept with the span of the token a
//! user would change. Only the syntax of each argument is checked here; how arguments fit
//! together (and with the function) is `validate.rs`'s business.

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, MetaNameValue, Token};

use crate::errors::Errors;

pub(crate) const CLASS: &str = "class";
pub(crate) const OP: &str = "op";
pub(crate) const BUCKET: &str = "bucket";
pub(crate) const CIRCUIT: &str = "circuit";
pub(crate) const MAX_ATTEMPTS: &str = "max_attempts";
pub(crate) const BASE_DELAY: &str = "base_delay";
pub(crate) const MAX_DELAY: &str = "max_delay";
pub(crate) const TIMEOUT: &str = "timeout";
pub(crate) const DEADLINE: &str = "deadline";
pub(crate) const RETRY: &str = "retry";
pub(crate) const HEDGE: &str = "hedge";

const ALL: [&str; 11] = [
    CLASS,
    OP,
    BUCKET,
    CIRCUIT,
    MAX_ATTEMPTS,
    BASE_DELAY,
    MAX_DELAY,
    TIMEOUT,
    DEADLINE,
    RETRY,
    HEDGE,
];

/// A value and the span of the token it came from.
#[derive(Clone, Debug)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// The arguments as written, each syntactically valid.
#[derive(Default)]
pub(crate) struct Args {
    /// Keys given, valid values or not, so a rejected value is not also reported missing.
    pub(crate) given: Vec<String>,
    /// The list did not parse: say nothing about what is missing.
    pub(crate) unparsed: bool,
    pub(crate) class: Option<Spanned<String>>,
    pub(crate) op: Option<Spanned<String>>,
    pub(crate) bucket: Option<Expr>,
    /// The expression, and the span of the `circuit` key (what to remove on a cleanup).
    pub(crate) circuit: Option<(Expr, Span)>,
    pub(crate) max_attempts: Option<Spanned<u32>>,
    pub(crate) base_delay: Option<Spanned<u64>>,
    pub(crate) max_delay: Option<Spanned<u64>>,
    pub(crate) timeout: Option<Spanned<u64>>,
    pub(crate) deadline: Option<Spanned<u64>>,
    /// A retry policy given at run time, instead of `max_attempts` and the delays.
    pub(crate) retry: Option<Expr>,
    /// When a slow read is sent again, and the span of the `hedge` key.
    pub(crate) hedge: Option<(Spanned<HedgeAfter>, Span)>,
}

/// When a slow attempt is hedged, as `hedge = "…"` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HedgeAfter {
    /// A fixed delay, in nanoseconds (more than zero).
    Delay(u64),
    /// A percentile of the site's recent latencies, in thousandths (500 to 999).
    Percentile(u16),
}

pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let pairs = match simple_pairs(&tokens) {
        Some(pairs) => pairs,
        None => match Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(tokens) {
            Ok(pairs) => pairs.into_iter().map(|p| (p.path, p.value)).collect(),
            Err(err) => {
                args.unparsed = true;
                errors.push(reword_syntax_error(err));
                return args;
            }
        },
    };
    for (path, value) in pairs {
        let key_span = path.span();
        let Some(key) = path.get_ident().map(ToString::to_string) else {
            errors.error(key_span, unknown_argument(&quote_path(&path)));
            continue;
        };
        args.given.push(key.clone());
        let duplicate = match key.as_str() {
            CLASS => set(&mut args.class, string(&key, &value, errors)),
            OP => set(&mut args.op, string(&key, &value, errors)),
            BUCKET => set(&mut args.bucket, Some(value)),
            CIRCUIT => set(&mut args.circuit, Some((value, key_span))),
            MAX_ATTEMPTS => set(&mut args.max_attempts, attempts(&value, errors)),
            BASE_DELAY => set(&mut args.base_delay, duration(&key, &value, errors)),
            MAX_DELAY => set(&mut args.max_delay, duration(&key, &value, errors)),
            TIMEOUT => set(&mut args.timeout, duration(&key, &value, errors)),
            DEADLINE => set(&mut args.deadline, duration(&key, &value, errors)),
            RETRY => set(&mut args.retry, Some(value)),
            HEDGE => set(
                &mut args.hedge,
                hedge(&value, errors).map(|hedge| (hedge, key_span)),
            ),
            _ => {
                errors.error(key_span, unknown_argument(&key));
                false
            }
        };
        if duplicate {
            errors.error(
                key_span,
                format!("duplicate argument `{key}`: give each argument once"),
            );
        }
    }
    args
}

/// The arguments as they are almost always written, `name = "literal"`, `name = 3` or
/// `name = self.field.path`, read from the tokens; `None` for anything else, which syn's
/// expression parser then reads (and reports on). syn's parser for `name = value` pairs is
/// most of what parsing the arguments cost rustc per method, run unoptimized as proc macros
/// are (BENCHMARKS.md, compile cost).
fn simple_pairs(tokens: &TokenStream) -> Option<Vec<(syn::Path, Expr)>> {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut pairs = Vec::new();
    let chunks: Vec<&[TokenTree]> = tokens
        .split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .collect();
    for (n, pair) in chunks.iter().enumerate() {
        let (key, value) = match pair {
            // No arguments, or a trailing comma.
            [] if tokens.is_empty() || (n + 1 == chunks.len() && n > 0) => continue,
            [TokenTree::Ident(key), TokenTree::Punct(eq), value @ ..]
                if eq.as_char() == '=' && eq.spacing() == Spacing::Alone =>
            {
                (key, value)
            }
            _ => return None,
        };
        let value = match value {
            [TokenTree::Literal(literal)] => Expr::Lit(ExprLit {
                attrs: Vec::new(),
                lit: Lit::new(literal.clone()),
            }),
            [TokenTree::Ident(_), rest @ ..] if is_field_path(rest) => {
                Expr::Verbatim(value.iter().cloned().collect())
            }
            _ => return None,
        };
        pairs.push((syn::Path::from((*key).clone()), value));
    }
    Some(pairs)
}

/// `.name.name…` after a first name, as in `self.results_bucket`.
fn is_field_path(rest: &[TokenTree]) -> bool {
    rest.chunks(2).all(|step| {
        matches!(step, [TokenTree::Punct(dot), TokenTree::Ident(_)] if dot.as_char() == '.' && dot.spacing() == Spacing::Alone)
    })
}

/// Stores `value` unless the slot is taken; `true` when it was (a duplicate).
fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match (slot.is_some(), value) {
        (true, _) => true,
        (false, value) => {
            *slot = value;
            false
        }
    }
}

fn unknown_argument(key: &str) -> String {
    if let Some(suggestion) = crate::suggest::closest(key, ALL) {
        return format!("unknown argument `{key}`; did you mean `{suggestion}`?");
    }
    let expected: Vec<String> = ALL.iter().map(|a| format!("`{a}`")).collect();
    format!(
        "unknown argument `{key}`; expected one of {}",
        expected.join(", ")
    )
}

/// syn's "expected `=`" says what the parser wanted, not what the user should write.
fn reword_syntax_error(err: syn::Error) -> syn::Error {
    if err.to_string() == "expected `=`" {
        syn::Error::new(
            err.span(),
            "arguments are `name = value` pairs, like `class = \"upload\", op = \"put_object\"`",
        )
    } else {
        err
    }
}

fn quote_path(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

fn string(key: &str, value: &Expr, errors: &mut Errors) -> Option<Spanned<String>> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(Spanned {
            value: s.value(),
            span: s.span(),
        }),
        _ => {
            let example = if key == CLASS { "upload" } else { "put_object" };
            errors.error(
                value.span(),
                format!("`{key}` takes a string literal, like `{key} = \"{example}\"`"),
            );
            None
        }
    }
}

/// The runtime's cap on attempts (`s3_ops_runtime::retry::MAX_ATTEMPTS`).
const ATTEMPTS_CAP: u32 = 100;

fn attempts(value: &Expr, errors: &mut Errors) -> Option<Spanned<u32>> {
    let parsed = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u32>().ok(),
        _ => None,
    };
    match parsed {
        Some(0) => {
            errors.error(
                value.span(),
                "`max_attempts` must be at least 1: it counts the first attempt too",
            );
            None
        }
        Some(n) if n > ATTEMPTS_CAP => {
            errors.error(
                value.span(),
                format!("`max_attempts` is at most {ATTEMPTS_CAP}: more retries only add load to a failing S3; use `max_attempts = {ATTEMPTS_CAP}` or fewer"),
            );
            None
        }
        Some(n) => Some(Spanned {
            value: n,
            span: value.span(),
        }),
        None => {
            errors.error(
                value.span(),
                "`max_attempts` takes an integer literal, like `max_attempts = 5`",
            );
            None
        }
    }
}

fn duration(key: &str, value: &Expr, errors: &mut Errors) -> Option<Spanned<u64>> {
    let literal = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s,
        _ => {
            errors.error(
                value.span(),
                format!("`{key}` takes a duration string, like `{key} = \"250ms\"`"),
            );
            return None;
        }
    };
    match parse_duration_nanos(&literal.value()) {
        Some(nanos) => Some(Spanned {
            value: nanos,
            span: literal.span(),
        }),
        None => {
            errors.error(
                literal.span(),
                format!(
                    "malformed duration `{:?}`: write a whole number and a unit (`ms`, `s`, `m` or `h`), like `\"250ms\"`, `\"1s\"` or `\"2m\"`",
                    literal.value()
                ),
            );
            None
        }
    }
}

const HEDGE_FORMS: &str = "a duration, like `hedge = \"50ms\"`, or a percentile of the recent attempt latencies from `p50` to `p99.9`, like `hedge = \"p95\"`";

fn hedge(value: &Expr, errors: &mut Errors) -> Option<Spanned<HedgeAfter>> {
    let Expr::Lit(ExprLit {
        lit: Lit::Str(literal),
        ..
    }) = value
    else {
        errors.error(value.span(), format!("`hedge` takes {HEDGE_FORMS}"));
        return None;
    };
    let text = literal.value();
    let parsed = match text.strip_prefix('p') {
        Some(percentile) => match parse_permille(percentile) {
            Some(permille @ 500..=999) => Ok(HedgeAfter::Percentile(permille)),
            Some(_) => Err(format!(
                "`hedge = {text:?}` is out of range: a percentile from `p50` to `p99.9` (below the median, most reads would be hedged; at `p100`, none), like `hedge = \"p95\"`"
            )),
            None => Err(format!("malformed percentile {text:?}: `hedge` takes {HEDGE_FORMS}")),
        },
        None => match parse_duration_nanos(&text) {
            Some(0) => Err("`hedge` must be longer than zero: every read would be sent twice; use a delay near the slow reads' latency, like `hedge = \"50ms\"`, or a percentile such as `\"p95\"`".to_owned()),
            Some(nanos) => Ok(HedgeAfter::Delay(nanos)),
            None => Err(format!("malformed `hedge` {text:?}: `hedge` takes {HEDGE_FORMS}")),
        },
    };
    match parsed {
        Ok(value) => Some(Spanned {
            value,
            span: literal.span(),
        }),
        Err(message) => {
            errors.error(literal.span(), message);
            None
        }
    }
}

/// `"95"` → 950, `"99.9"` → 999: a whole percentage and at most one decimal, in thousandths.
fn parse_permille(text: &str) -> Option<u16> {
    let (whole, tenth) = match text.split_once('.') {
        Some((whole, tenth)) => (whole, Some(tenth)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || tenth.is_some_and(|t| t.len() != 1 || !digits(t)) {
        return None;
    }
    let whole: u16 = whole.parse().ok()?;
    let tenth: u16 = tenth.map_or(Some(0), |t| t.parse().ok())?;
    Some(whole * 10 + tenth)
}

/// `"250ms"`, `"1s"`, `"2m"`, `"1h"` → nanoseconds. Whole numbers only: a fraction is easier
/// to misread than a smaller unit.
pub(crate) fn parse_duration_nanos(text: &str) -> Option<u64> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number.parse().ok()?;
    let unit_nanos: u64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(unit_nanos)
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::parse_duration_nanos as parse;
    use super::*;

    #[test]
    fn simple_arguments_are_read_as_syn_reads_them() {
        for args in [
            "class = \"upload\", op = \"put_object\", bucket = self.bucket",
            "class = \"download\", op = \"get_object\", bucket = self.cfg.bucket, max_attempts = 5,",
            "class = \"cleanup\", op = \"delete_object\", base_delay = \"1s\", circuit = breaker",
            "",
        ] {
            let tokens: TokenStream = args.parse().unwrap();
            let fast = simple_pairs(&tokens).unwrap_or_else(|| panic!("not simple: {args}"));
            let syn_pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated
                .parse2(tokens)
                .unwrap();
            let text = |path: &syn::Path, value: &Expr| {
                format!("{} = {}", path.to_token_stream(), value.to_token_stream())
            };
            let fast: Vec<String> = fast.iter().map(|(p, v)| text(p, v)).collect();
            let syn_pairs: Vec<String> = syn_pairs.iter().map(|p| text(&p.path, &p.value)).collect();
            assert_eq!(fast, syn_pairs, "{args}");
        }
    }

    #[test]
    fn other_arguments_are_left_to_syn() {
        for args in [
            "class = \"upload\" op = \"put_object\"",
            "class = \"upload\",, op = \"put_object\"",
            ", class = \"upload\"",
            "bucket = &self.bucket",
            "bucket = self.bucket()",
            "max_attempts = -1",
            "a::b = 1",
            "class == \"upload\"",
            "class",
        ] {
            assert!(simple_pairs(&args.parse().unwrap()).is_none(), "{args}");
        }
    }

    #[test]
    fn percentiles() {
        assert_eq!(parse_permille("95"), Some(950));
        assert_eq!(parse_permille("99.9"), Some(999));
        assert_eq!(parse_permille("50"), Some(500));
        assert_eq!(parse_permille("100"), Some(1000));
        assert_eq!(parse_permille("0"), Some(0));
        for bad in ["", "9x", "99.", ".9", "99.99", "-5", "1000", "9 5", "99.x"] {
            assert_eq!(parse_permille(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse("250ms"), Some(250_000_000));
        assert_eq!(parse("1s"), Some(1_000_000_000));
        assert_eq!(parse("2m"), Some(120_000_000_000));
        assert_eq!(parse("1h"), Some(3_600_000_000_000));
        for bad in [
            "",
            "s",
            "1",
            "1.5s",
            "1 s",
            "1sec",
            "-1s",
            "99999999999999h",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
