//! The rules: how the arguments fit together and with the function they annotate. Each error
//! points at the token to change and says what to write instead.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Expr, FnArg, ReturnType, Signature, Type};

use crate::args::{self, Args, HedgeAfter, Spanned};
use crate::errors::Errors;
use crate::ops::{self, Kind};
use crate::suggest;

/// The classes of S3 call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Upload,
    Download,
    Cleanup,
}

impl Class {
    const NAMES: &'static str = "`upload`, `download` or `cleanup`";
    const ALL: [&'static str; 3] = ["upload", "download", "cleanup"];

    fn from_str(name: &str) -> Option<Class> {
        match name {
            "upload" => Some(Class::Upload),
            "download" => Some(Class::Download),
            "cleanup" => Some(Class::Cleanup),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Upload => "upload",
            Class::Download => "download",
            Class::Cleanup => "cleanup",
        }
    }

    fn fits(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Class::Upload, Kind::Write)
                | (Class::Download, Kind::Read)
                | (Class::Cleanup, Kind::Delete | Kind::Read)
        )
    }

    /// The breaker field a method of this class uses unless told otherwise.
    fn default_circuit(self) -> Option<&'static str> {
        match self {
            Class::Upload => Some("upload_circuit"),
            Class::Download => Some("download_circuit"),
            Class::Cleanup => None,
        }
    }
}

/// Everything the expansion needs, checked.
pub(crate) struct Config {
    pub(crate) op: String,
    pub(crate) bucket: Option<Expr>,
    /// The breaker as a place expression, and where errors about it should point; `None` for
    /// cleanup.
    pub(crate) circuit: Option<(TokenStream, Span)>,
    /// Whose default retry policy the site starts from: the runtime's, named by the expansion.
    pub(crate) class: Class,
    /// What the attribute changes of that policy; `None` keeps the default.
    pub(crate) max_attempts: Option<u32>,
    pub(crate) base_delay_nanos: Option<u64>,
    pub(crate) max_delay_nanos: Option<u64>,
    pub(crate) timeout_nanos: Option<u64>,
    /// The whole call's time limit.
    pub(crate) deadline_nanos: Option<u64>,
    /// The run-time retry policy (`retry = <expr>`), in place of the three above it.
    pub(crate) retry: Option<Expr>,
    /// When a slow attempt is hedged.
    pub(crate) hedge: Option<HedgeAfter>,
    /// Where errors about the error type should point.
    pub(crate) return_span: Span,
}

// The runtime's default delays (`RetryPolicy::DEFAULT`), only to check a delay given against the
// other one's default and to word that message; the runtime's test `attribute_messages_name_the_default_delays`
// pins them. The expansion names the runtime's policy and writes none of these.
const SECOND: u64 = 1_000_000_000;
const DEFAULT_BASE: u64 = SECOND;
const DEFAULT_MAX: u64 = 30 * SECOND;

pub(crate) fn check(args: Args, sig: &Signature, errors: &mut Errors) -> Option<Config> {
    // A key that was given with a bad value, or a list that did not parse, is already
    // reported: do not also call it missing.
    let report_missing = |key: &str| !args.unparsed && !args.given.iter().any(|k| k == key);
    let class = check_class(args.class.as_ref(), report_missing(args::CLASS), errors);
    let op = check_op(
        args.op.as_ref(),
        args.class.as_ref().zip(class),
        report_missing(args::OP),
        errors,
    );
    check_retry(&args, errors);
    let hedge = check_hedge(&args, class, sig, errors);
    let circuit = check_circuit(class, args.class.as_ref(), args.circuit, sig, errors);
    check_async(sig, errors);
    let return_span = check_return(sig, errors);

    let max_attempts = args.max_attempts.map(|n| n.value);
    let base_delay_nanos = args.base_delay.as_ref().map(|d| d.value);
    let max_delay_nanos = args.max_delay.as_ref().map(|d| d.value);
    if base_delay_nanos.unwrap_or(DEFAULT_BASE) > max_delay_nanos.unwrap_or(DEFAULT_MAX)
        && args.retry.is_none()
    {
        let (span, message) = match (&args.base_delay, &args.max_delay) {
            (Some(base), Some(_)) => (
                base.span,
                "`base_delay` is longer than `max_delay`: the first backoff would already exceed the cap; lower `base_delay` or raise `max_delay`".to_owned(),
            ),
            (Some(base), None) => (
                base.span,
                "`base_delay` is longer than the default `max_delay` (30s): lower `base_delay` or set a longer `max_delay`".to_owned(),
            ),
            (None, Some(max)) => (
                max.span,
                "`max_delay` is shorter than the default `base_delay` (1s): raise `max_delay` or set a shorter `base_delay`".to_owned(),
            ),
            (None, None) => unreachable!("the defaults are ordered"),
        };
        errors.error(span, message);
    }
    if let Some(timeout) = &args.timeout {
        if timeout.value == 0 {
            errors.error(
                timeout.span,
                "`timeout` must be longer than zero: every attempt would time out; remove `timeout` for no per-attempt limit",
            );
        }
    }

    check_deadline(args.deadline.as_ref(), args.timeout.as_ref(), errors);

    Some(Config {
        class: class?,
        op: op?,
        bucket: args.bucket,
        circuit: circuit?,
        max_attempts,
        base_delay_nanos,
        max_delay_nanos,
        timeout_nanos: args.timeout.map(|t| t.value),
        deadline_nanos: args.deadline.map(|d| d.value),
        retry: args.retry,
        hedge,
        return_span: return_span?,
    })
}

/// `retry = <expr>` is the whole policy: the literal retry arguments would be ignored, so they
/// are refused next to it, each at its value.
fn check_retry(args: &Args, errors: &mut Errors) {
    if args.retry.is_none() {
        return;
    }
    let literals = [
        (
            args::MAX_ATTEMPTS,
            args.max_attempts.as_ref().map(|a| a.span),
        ),
        (args::BASE_DELAY, args.base_delay.as_ref().map(|d| d.span)),
        (args::MAX_DELAY, args.max_delay.as_ref().map(|d| d.span)),
    ];
    for (key, span) in literals {
        if let Some(span) = span {
            errors.error(
                span,
                format!(
                    "`{key}` cannot be used with `retry`: the `RetryPolicy` given to `retry` decides the attempts and delays; set `{key}` in that policy, or remove `retry`"
                ),
            );
        }
    }
}

/// A deadline bounds the whole call, so it is longer than zero and than one attempt's limit.
fn check_deadline(
    deadline: Option<&Spanned<u64>>,
    timeout: Option<&Spanned<u64>>,
    errors: &mut Errors,
) {
    let Some(deadline) = deadline else {
        return;
    };
    if deadline.value == 0 {
        errors.error(
            deadline.span,
            "`deadline` must be longer than zero: every call would end before its first attempt; remove `deadline` for no limit on the whole call",
        );
    } else if timeout.is_some_and(|t| t.value > deadline.value) {
        errors.error(
            deadline.span,
            "`deadline` is shorter than `timeout`: the deadline bounds the whole call, every attempt and backoff included; make `deadline` at least as long as `timeout`, or lower `timeout`",
        );
    }
}

/// A hedge is a second attempt of the body running beside the first: for reads only, and for
/// bodies that can run twice at once.
fn check_hedge(
    args: &Args,
    class: Option<Class>,
    sig: &Signature,
    errors: &mut Errors,
) -> Option<HedgeAfter> {
    let (hedge, key_span) = args.hedge.as_ref()?;
    let mut valid = true;
    if let Some(class @ (Class::Upload | Class::Cleanup)) = class {
        errors.error(
            *key_span,
            format!(
                "`hedge` is for reads: a hedge sends the request again while the first may still succeed, and `{}` requests must not run twice; use `hedge` on a `class = \"download\"` method, or remove it",
                class.name()
            ),
        );
        valid = false;
    }
    for input in &sig.inputs {
        let (mutability, what) = match input {
            FnArg::Receiver(receiver) if receiver.reference.is_some() => {
                (receiver.mutability, "`self`".to_owned())
            }
            FnArg::Typed(typed) => match &*typed.ty {
                Type::Reference(reference) => {
                    let pattern = &typed.pat;
                    (reference.mutability, format!("`{}`", quote!(#pattern)))
                }
                _ => (None, String::new()),
            },
            FnArg::Receiver(_) => (None, String::new()),
        };
        if let Some(mutability) = mutability {
            errors.error(
                mutability.span,
                format!(
                    "`hedge` runs two attempts of the body at once, and both cannot borrow {what} mutably: take it by shared reference (`&`, with what the body changes behind a lock or an atomic), or remove `hedge`"
                ),
            );
            valid = false;
        }
    }
    if let (HedgeAfter::Delay(delay), Some(timeout)) = (hedge.value, &args.timeout) {
        if delay >= timeout.value {
            errors.error(
                hedge.span,
                "`hedge` is not shorter than `timeout`: every slow attempt would time out before it is hedged; hedge sooner, or raise `timeout`",
            );
            valid = false;
        }
    }
    valid.then_some(hedge.value)
}

fn check_class(
    class: Option<&Spanned<String>>,
    report_missing: bool,
    errors: &mut Errors,
) -> Option<Class> {
    let Some(class) = class else {
        if !report_missing {
            return None;
        }
        errors.error(
            Span::call_site(),
            format!(
                "missing `{}`: add `{} = \"upload\"`, `\"download\"` or `\"cleanup\"`",
                args::CLASS,
                args::CLASS
            ),
        );
        return None;
    };
    match Class::from_str(&class.value) {
        Some(c) => Some(c),
        None if class.value == "delete" => {
            errors.error(
                class.span,
                "there is no `delete` class: deletes are best-effort cleanup, without a circuit breaker; write `class = \"cleanup\"`",
            );
            None
        }
        None => {
            let message = match suggest::closest(&class.value, Class::ALL) {
                Some(suggestion) => format!(
                    "unknown class `{}`; did you mean `{suggestion}`? (expected {})",
                    class.value,
                    Class::NAMES
                ),
                None => format!("unknown class `{}`; expected {}", class.value, Class::NAMES),
            };
            errors.error(class.span, message);
            None
        }
    }
}

/// `class` is the class as written and as parsed, when it is valid: a mismatch points at it,
/// the token the message asks to change.
fn check_op(
    op: Option<&Spanned<String>>,
    class: Option<(&Spanned<String>, Class)>,
    report_missing: bool,
    errors: &mut Errors,
) -> Option<String> {
    let Some(op) = op else {
        if !report_missing {
            return None;
        }
        errors.error(
            Span::call_site(),
            format!(
                "missing `{}`: name the S3 operation as the SDK does, like `{} = \"put_object\"`",
                args::OP,
                args::OP
            ),
        );
        return None;
    };
    let Some(kind) = ops::kind_of(&op.value) else {
        let message = match ops::closest(&op.value) {
            Some(suggestion) => format!(
                "unknown S3 operation `{}`; did you mean `{suggestion}`?",
                op.value
            ),
            None => format!(
                "unknown S3 operation `{}`; use the `aws-sdk-s3` method name in snake_case, like `put_object` or `list_objects_v2`",
                op.value
            ),
        };
        errors.error(op.span, message);
        return None;
    };
    let (written, class) = class?;
    if !class.fits(kind) {
        let message = match kind {
            Kind::Delete => format!(
                "`{}` deletes, and deletes are best-effort cleanup without a circuit breaker: use `class = \"cleanup\"`, not `{}`",
                op.value,
                class.name()
            ),
            Kind::Read => format!(
                "`{}` reads: use `class = \"download\"`, not `{}`",
                op.value,
                class.name()
            ),
            Kind::Write => format!(
                "`{}` writes: use `class = \"upload\"`, not `{}`",
                op.value,
                class.name()
            ),
        };
        errors.error(written.span, message);
        return None;
    }
    Some(op.value.clone())
}

/// The breaker to guard the call with: the `circuit` argument, else the class's field of
/// `self`. `Some(None)` is a cleanup (no breaker); `None` is an error.
fn check_circuit(
    class: Option<Class>,
    written_class: Option<&Spanned<String>>,
    circuit: Option<(Expr, Span)>,
    sig: &Signature,
    errors: &mut Errors,
) -> Option<Option<(TokenStream, Span)>> {
    let class = class?;
    match (class.default_circuit(), circuit) {
        (None, Some((_, key_span))) => {
            errors.error(
                key_span,
                "cleanup operations have no circuit breaker, by design: cleanup is best-effort and must neither wait on nor trip a breaker; remove `circuit`",
            );
            None
        }
        (None, None) => Some(None),
        (Some(_), Some((expr, _))) => Some(Some((quote!(#expr), expr.span()))),
        (Some(field), None) => {
            let has_self = matches!(sig.inputs.first(), Some(FnArg::Receiver(_)));
            if !has_self {
                errors.error(
                    sig.ident.span(),
                    format!(
                        "a function without `self` has no `self.{field}` to default to: pass the breaker with `circuit = <expr>`"
                    ),
                );
                return None;
            }
            // Spanned at the class, so a missing field is reported where the default comes from.
            let span = written_class.map_or_else(Span::call_site, |c| c.span);
            let field = syn::Ident::new(field, span);
            Some(Some((quote_spanned!(span=> self.#field), span)))
        }
    }
}

fn check_async(sig: &Signature, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.error(
            sig.fn_token.span,
            "`#[s3_operation]` needs an `async fn`: the retry loop awaits the body and the backoff; write `async fn`",
        );
    }
}

/// The return type must be a `Result`; returns the span errors about its error type point at.
fn check_return(sig: &Signature, errors: &mut Errors) -> Option<Span> {
    const HOW: &str = "return `Result<T, E>` where `E` is `s3_ops_runtime::S3Error` or an error type implementing `Classify`";
    let ty = match &sig.output {
        ReturnType::Type(_, ty) => ty,
        ReturnType::Default => {
            errors.error(
                sig.ident.span(),
                format!("add a return type: `#[s3_operation]` methods {HOW}"),
            );
            return None;
        }
    };
    // Aliases such as `S3Result<T>` are accepted by name; the type checker has the last word.
    let is_result = matches!(&**ty, Type::Path(path) if path
        .path
        .segments
        .last()
        .is_some_and(|last| last.ident.to_string().ends_with("Result")));
    if !is_result {
        errors.error(
            ty.span(),
            format!("this is not a `Result`: `#[s3_operation]` methods {HOW}"),
        );
        return None;
    }
    Some(error_type_span(ty))
}

/// The span of `E` in `Result<T, E>`, where a missing `Classify` or `From<CircuitOpen>` is to
/// be fixed; the whole type for an alias that hides it (`S3Result<T>`).
fn error_type_span(ty: &Type) -> Span {
    let Type::Path(path) = ty else {
        return ty.span();
    };
    let last = path.path.segments.last();
    match last.map(|segment| &segment.arguments) {
        Some(syn::PathArguments::AngleBracketed(args)) if args.args.len() == 2 => {
            args.args.last().map_or_else(|| ty.span(), |e| e.span())
        }
        _ => ty.span(),
    }
}
