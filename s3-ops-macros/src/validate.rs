//! The rules: how the arguments fit together and with the function they annotate. Each error
//! points at the token to change and says what to write instead.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned as _;
use syn::{Expr, FnArg, ReturnType, Signature, Type};

use crate::args::{self, Args, Spanned};
use crate::errors::Errors;
use crate::ops::{self, Kind};

/// The seed's classes of S3 call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Upload,
    Download,
    Cleanup,
}

impl Class {
    const NAMES: &'static str = "`upload`, `download` or `cleanup`";

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
    pub(crate) class: Class,
    pub(crate) op: String,
    pub(crate) bucket: Option<Expr>,
    /// The breaker as a place expression; `None` for cleanup.
    pub(crate) circuit: Option<TokenStream>,
    pub(crate) max_attempts: u32,
    pub(crate) base_delay_nanos: u64,
    pub(crate) max_delay_nanos: u64,
    pub(crate) timeout_nanos: Option<u64>,
    /// Where errors about the error type should point.
    pub(crate) return_span: Span,
}

const SECOND: u64 = 1_000_000_000;

pub(crate) fn check(args: Args, sig: &Signature, errors: &mut Errors) -> Option<Config> {
    let class = check_class(args.class.as_ref(), errors);
    let op = check_op(args.op.as_ref(), class, errors);
    let circuit = check_circuit(class, args.circuit, sig, errors);
    check_async(sig, errors);
    let return_span = check_return(sig, errors);

    let default_attempts = if class == Some(Class::Cleanup) { 1 } else { 3 };
    let max_attempts = args.max_attempts.map_or(default_attempts, |n| n.value);
    let base_delay_nanos = args.base_delay.as_ref().map_or(SECOND, |d| d.value);
    let max_delay_nanos = args.max_delay.as_ref().map_or(30 * SECOND, |d| d.value);
    if base_delay_nanos > max_delay_nanos {
        let span = args
            .base_delay
            .as_ref()
            .or(args.max_delay.as_ref())
            .map_or_else(Span::call_site, |d| d.span);
        errors.error(
            span,
            "`base_delay` is longer than `max_delay`: the first backoff would already exceed the cap; lower `base_delay` or raise `max_delay`",
        );
    }
    if let Some(timeout) = &args.timeout {
        if timeout.value == 0 {
            errors.error(
                timeout.span,
                "`timeout` must be longer than zero: every attempt would time out",
            );
        }
    }

    Some(Config {
        class: class?,
        op: op?,
        bucket: args.bucket,
        circuit: circuit?,
        max_attempts,
        base_delay_nanos,
        max_delay_nanos,
        timeout_nanos: args.timeout.map(|t| t.value),
        return_span: return_span?,
    })
}

fn check_class(class: Option<&Spanned<String>>, errors: &mut Errors) -> Option<Class> {
    let Some(class) = class else {
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
            errors.error(
                class.span,
                format!(
                    "unknown class `{}`; expected {}",
                    class.value,
                    Class::NAMES
                ),
            );
            None
        }
    }
}

fn check_op(op: Option<&Spanned<String>>, class: Option<Class>, errors: &mut Errors) -> Option<String> {
    let Some(op) = op else {
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
    let class = class?;
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
        errors.error(op.span, message);
        return None;
    }
    Some(op.value.clone())
}

/// The breaker to guard the call with: the `circuit` argument, else the class's field of
/// `self`. `Some(None)` is a cleanup (no breaker); `None` is an error.
fn check_circuit(
    class: Option<Class>,
    circuit: Option<(Expr, Span)>,
    sig: &Signature,
    errors: &mut Errors,
) -> Option<Option<TokenStream>> {
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
        (Some(_), Some((expr, _))) => Some(Some(quote!(#expr))),
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
            let field = syn::Ident::new(field, Span::call_site());
            Some(Some(quote!(self.#field)))
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
                format!("`#[s3_operation]` methods {HOW}"),
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
    Some(ty.span())
}
