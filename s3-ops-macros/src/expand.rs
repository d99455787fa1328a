//! Generation: the only file that writes runtime paths (with `attempt.rs`'s `?` rewrite). The
//! signature is re-emitted untouched; only the body changes.
//!
//! ```text
//! // Input:
//! #[s3_operation(class = "upload", op = "put_object", bucket = self.results_bucket)]
//! pub async fn upload_result(&self, job_id: &str) -> Result<String, S3Error> { BODY }
//!
//! // Output:
//! pub async fn upload_result(&self, job_id: &str) -> Result<String, S3Error> {
//!     use ::s3_ops_runtime::__private as __s3_ops;
//!     static __S3_OPS_SITE: __s3_ops::Site =
//!         __s3_ops::site("put_object", 3, 1e9, 30e9, 0, 0);
//!     // Counts the first attempt; a refusal is the method's result, `Err(E::from(CircuitOpen))`.
//!     let mut __s3_ops_call = match __s3_ops::Call::begin(&__S3_OPS_SITE,
//!         __s3_ops::bucket(&(self.results_bucket)),
//!         __s3_ops::circuit(&(self.upload_circuit))) {
//!         __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
//!         __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
//!     };
//!     loop {
//!         // The body inline, `?` and `return` rewritten to leave the block (`attempt.rs`):
//!         let __s3_ops_result: Result<String, S3Error> = '__s3_ops_attempt: { BODY };
//!         if __s3_ops_call.settle(&__s3_ops_result, __s3_ops::circuit(&(self.upload_circuit))) {
//!             return __s3_ops_result;
//!         }
//!         __s3_ops_call.backoff().await; // tokio's `Sleep`
//!         // The circuit opened meanwhile: the call ends with the last attempt's result.
//!         if __s3_ops_call.resume(&__s3_ops_result, __s3_ops::circuit(&(self.upload_circuit))) {
//!             return __s3_ops_result;
//!         }
//!     }
//! }
//! ```
//!
//! With `retry = <expr>`, the call begins under a copy of that policy instead of the site's
//! (taken once into a local, so no borrow of `self` outlives the statement):
//!
//! ```text
//! let __s3_ops_policy = __s3_ops::retry(&(self.upload_retry));
//! let mut __s3_ops_call = match __s3_ops::Call::begin_with(&__S3_OPS_SITE, &__s3_ops_policy,
//!     __s3_ops::bucket(&(self.results_bucket)), __s3_ops::circuit(&(self.upload_circuit))) { .. };
//! ```
//!
//! With a `timeout` or a `deadline`, or when the body has a way out the macro cannot see (`attempt.rs` lists
//! them), the attempt is an `async` block instead, whose `return` and `?` end it as they are:
//!
//! ```text
//! let __s3_ops_result = async {
//!     if false { let __s3_ops_fake_return: Result<String, S3Error> = loop {};
//!                return __s3_ops_fake_return; }
//!     BODY
//! }
//! .await; // or `__s3_ops_call.with_timeout(async { .. }).await`
//! ```
//!
//! With `hedge`, the attempt is an `async` block built twice (the same expression, so one type
//! and no closure) and raced by the call, which runs the twin only when the first is slow:
//!
//! ```text
//! static __S3_OPS_HEDGE: __s3_ops::Hedge = __s3_ops::hedge(0, 950); // "p95"
//! let __s3_ops_result = {
//!     let mut __s3_ops_pair = __s3_ops::AttemptPair::new();
//!     for _ in 0..2 { __s3_ops_pair.put(async { .. }); } // each `.apply`s the limit, if any
//!     __s3_ops_call.hedged(&__S3_OPS_HEDGE, __s3_ops_pair, circuit).await
//! };
//! ```
//!
//! Why this shape:
//! - The body runs inside the method, once per attempt, in a scope of its own: `return` and `?`
//!   end the attempt (not the method), and the body borrows what it borrows for one attempt
//!   only, so `&mut self` works. No closure is handed to a combinator.
//! - Inline rather than an `async` block where possible: a second coroutine per method roughly
//!   doubled what the attribute cost rustc (BENCHMARKS.md, compile cost).
//! - The breaker is borrowed again to record the outcome; the call holds no borrow of `self`
//!   across the body.
//! - The `let`'s type (inline) or the fake return edge (`async` block) fixes the attempt's type
//!   before the body is checked, so a type error lands on the user's expression, not on the
//!   attribute (`tracing-attributes`' trick).
//! - Errors about the error type (`From<CircuitOpen>`, `Classify`) are spanned at the return
//!   type, the token to change.
//! - Few tokens, because every one is paid for in every annotated method (written by the macro,
//!   carried to rustc, resolved, lowered, hashed): the runtime is named through a local alias,
//!   the site is one `const fn` call. The signature goes back as the tokens that came.
//! - Constructs that are cheap for rustc, each measured in the crate with the expansion pasted
//!   in as source (BENCHMARKS.md, compile cost): `settle` answers a `bool` and the result is
//!   returned as it is, where an `if let` on an `Option` to unpack costs more in every method;
//!   `begin`'s refusal is already the method's result, returned as it is, with no conversion
//!   to write; the circuit is one function call, without a `Some` constructor to infer; the
//!   only `await` besides the body's is `backoff()`, tokio's `Sleep`: a concrete type, where
//!   an `async fn`'s opaque future costs rustc more in every method's coroutine.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;
use syn::visit_mut::{self, VisitMut};
use syn::{ReturnType, Type};

use crate::args::HedgeAfter;
use crate::attempt;
use crate::function::Function;

use crate::validate::{Class, Config};

pub(crate) fn expand(func: Function, config: Config) -> TokenStream {
    let Function {
        head,
        sig,
        inner_attrs,
        body,
        body_span,
    } = func;

    let site = site(&config);
    let ret_span = config.return_span;

    let bucket = match &config.bucket {
        // Spanned at the expression, so a type that is not a bucket name is reported there.
        Some(expr) => quote_spanned!(expr.span()=> __s3_ops::bucket(&(#expr))),
        None => quote!(""),
    };
    // `retry = <expr>`: a copy of the policy, taken once into a local the call borrows (no
    // borrow of `self` across the body); spanned at the expression, so a value that is not a
    // policy is reported there.
    let policy_copy = config
        .retry
        .as_ref()
        .map(|expr| quote_spanned!(expr.span()=> let __s3_ops_policy = __s3_ops::retry(&(#expr));));
    // The constructors' names carry the return type's span: a missing `From<CircuitOpen>` is
    // reported against the bound of the constructor, at the token to change.
    let (begin, begin_unguarded, policy) = match policy_copy {
        Some(_) => (
            quote_spanned!(ret_span=> begin_with),
            quote_spanned!(ret_span=> begin_unguarded_with),
            Some(quote!(&__s3_ops_policy,)),
        ),
        None => (
            quote_spanned!(ret_span=> begin),
            quote_spanned!(ret_span=> begin_unguarded),
            None,
        ),
    };
    // `circuit(&expr)`, spanned at the expression, checks its type where the user wrote it. It
    // is evaluated again to record the outcome, so no borrow is held across the body.
    let (begin, circuit) = match &config.circuit {
        Some((circuit, span)) => {
            let circuit = quote_spanned!(*span=> __s3_ops::circuit(&(#circuit)));
            // The refusal converts to the error type: spanned at the return type, where a
            // missing `From<CircuitOpen>` is reported.
            let begin = quote_spanned! {ret_span=>
                match __s3_ops::Call::#begin(&__S3_OPS_SITE, #policy #bucket, #circuit) {
                    __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
                    __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
                }
            };
            (begin, circuit)
        }
        None => (
            quote!(__s3_ops::Call::#begin_unguarded(&__S3_OPS_SITE, #policy #bucket)),
            quote!(__s3_ops::OptionNone),
        ),
    };

    let result_type = erased_return_type(&sig.output);
    // Inline (a labeled block, `attempt.rs`) whenever possible: it compiles like the plain
    // method. A per-attempt timeout needs a future to drop, and a hedge two futures to race, so
    // they keep the `async` block, as does a body whose every exit is not visible to the macro.
    let limited = config.timeout_nanos.is_some() || config.deadline_nanos.is_some();
    let inline = if limited || config.hedge.is_some() {
        None
    } else {
        attempt::inline(&body, body_span)
    };
    let (annotation, attempt) = match inline {
        Some(block) => {
            let annotation = result_type.map(|ty| quote_spanned!(ret_span=> : #ty));
            (annotation, block)
        }
        None => {
            let fake_return = result_type.map(|ty| fake_return_edge(&ty, ret_span));
            // The body's statements go straight into the block: wrapping its `{ }` in the
            // async block's would trip `unused_braces` on one-expression bodies. The async
            // block is the body's scope, fresh for each attempt.
            let attempt = quote_spanned! {body_span=>
                async {
                    #fake_return
                    #body
                }
            };
            let attempt = match (config.hedge.is_some(), limited) {
                (true, limited) => hedged_attempt(&attempt, limited, &circuit, ret_span),
                (false, true) => {
                    quote_spanned!(ret_span=> __s3_ops_call.with_timeout(#attempt).await)
                }
                (false, false) => quote!(#attempt.await),
            };
            (None, attempt)
        }
    };
    let settle = quote_spanned! {ret_span=>
        __s3_ops_call.settle(&__s3_ops_result, #circuit)
    };
    let resume = quote_spanned! {ret_span=>
        __s3_ops_call.resume(&__s3_ops_result, #circuit)
    };

    quote! {
        #head {
            #(#inner_attrs)*
            use ::s3_ops_runtime::__private as __s3_ops;
            #site
            #policy_copy
            let mut __s3_ops_call = #begin;
            loop {
                let __s3_ops_result #annotation = #attempt;
                if #settle {
                    return __s3_ops_result;
                }
                __s3_ops_call.backoff().await;
                if #resume {
                    return __s3_ops_result;
                }
            }
        }
    }
}

/// The `static` describing the call site: built at compile time, so the hot path only reads it.
fn site(config: &Config) -> TokenStream {
    let op = &config.op;
    let policy = policy(config);
    // 0 is none (the macro rejects a zero `timeout` or `deadline`).
    let timeout = config.timeout_nanos.unwrap_or(0);
    let deadline = config.deadline_nanos.unwrap_or(0);
    let hedge = config.hedge.map(|hedge| {
        let (delay, permille) = match hedge {
            HedgeAfter::Delay(nanos) => (nanos, 0u16),
            HedgeAfter::Percentile(permille) => (0u64, permille),
        };
        quote!(static __S3_OPS_HEDGE: __s3_ops::Hedge = __s3_ops::hedge(#delay, #permille);)
    });
    quote! {
        static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
            #op, #policy, #timeout, #deadline,
        );
        #hedge
    }
}

/// The site's retry policy: the runtime's default for the class, with what the attribute sets.
fn policy(config: &Config) -> TokenStream {
    let class = match config.class {
        Class::Upload => quote!(Upload),
        Class::Download => quote!(Download),
        Class::Cleanup => quote!(Cleanup),
    };
    let default = quote!(__s3_ops::OperationClass::#class.default_policy());
    let attempts = config.max_attempts.map(|n| quote!(max_attempts: #n,));
    let base = config
        .base_delay_nanos
        .map(|nanos| quote!(base_delay: __s3_ops::Duration::from_nanos(#nanos),));
    let max = config
        .max_delay_nanos
        .map(|nanos| quote!(max_delay: __s3_ops::Duration::from_nanos(#nanos),));
    if attempts.is_none() && base.is_none() && max.is_none() {
        return default;
    }
    quote!(__s3_ops::RetryPolicy { #attempts #base #max ..#default })
}

/// One attempt of a hedged site: the attempt and its twin, the same `async` block built twice
/// (one type, no closure), raced by the call. Each carries the attempt's time limit, if any.
fn hedged_attempt(
    attempt: &TokenStream,
    limited: bool,
    circuit: &TokenStream,
    ret_span: Span,
) -> TokenStream {
    let (limit, attempt) = if limited {
        (
            Some(quote!(let __s3_ops_limit = __s3_ops_call.limit();)),
            quote_spanned!(ret_span=> __s3_ops_limit.apply(#attempt)),
        )
    } else {
        (None, attempt.clone())
    };
    quote_spanned! {ret_span=>
        {
            let mut __s3_ops_pair = __s3_ops::AttemptPair::new();
            #limit
            for _ in 0..2 {
                __s3_ops_pair.put(#attempt);
            }
            __s3_ops_call.hedged(&__S3_OPS_HEDGE, __s3_ops_pair, #circuit).await
        }
    }
}

/// The method's return type, with `impl Trait` (which cannot be written in a `let`) left to
/// inference.
fn erased_return_type(output: &ReturnType) -> Option<TokenStream> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut ty = (**ty).clone();
    ImplTraitEraser.visit_type_mut(&mut ty);
    Some(ty.into_token_stream())
}

/// An unreachable `return` of the declared type as the `async` block's first statement, so the
/// compiler knows the block's output type before it checks the body.
fn fake_return_edge(ty: &TokenStream, span: Span) -> TokenStream {
    quote_spanned! {span=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::let_unit_value,
            clippy::empty_loop,
            clippy::needless_return
        )]
        if false {
            // `loop {}` rather than `unreachable!()`: the same type, without a panic's
            // formatting machinery for the compiler to expand and check in every method.
            let __s3_ops_fake_return: #ty = loop {};
            return __s3_ops_fake_return;
        }
    }
}

struct ImplTraitEraser;

impl VisitMut for ImplTraitEraser {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](impl_trait.impl_token.span),
            });
        } else {
            visit_mut::visit_type_mut(self, ty);
        }
    }
}
