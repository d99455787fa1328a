//! The `#[s3_operation]` attribute of s3-ops.
//!
//! Use it through `s3_ops_runtime::s3_operation`, where it is documented: the generated code
//! calls into `s3_ops_runtime` by absolute path, so this crate is of no use on its own.
//!
//! Layout: `args.rs` parses the arguments, `validate.rs` checks how they fit together and with
//! the function, `ops.rs` lists the S3 operations, `expand.rs` writes the code, `attempt.rs` turns
//! the body into one attempt run inline.

mod args;
mod attempt;
mod errors;
mod expand;
mod function;
mod ops;
mod suggest;
mod validate;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::ToTokens;

use errors::Errors;
use function::Function;

/// Makes an `async fn` that calls S3 resilient: circuit breaker, retry with backoff, metrics.
/// See `s3_ops_runtime::s3_operation` for the documentation.
#[proc_macro_attribute]
pub fn s3_operation(args: TokenStream, item: TokenStream) -> TokenStream {
    s3_operation_impl(args.into(), item.into()).into()
}

fn s3_operation_impl(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let func: Function = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(err) => return with_error(item, not_a_function(err)),
    };
    let mut errors = Errors::default();
    let args = args::parse(args, &mut errors);
    let config = validate::check(args, &func.sig, &mut errors);
    match (errors.finish(), config) {
        (Ok(()), Some(config)) => expand::expand(func, config),
        (Err(err), _) => with_error(item, err),
        (Ok(()), None) => unreachable!("every rejected configuration records an error"),
    }
}

/// The item unchanged next to the errors: rust-analyzer keeps seeing the method, and callers get
/// no cascade of "method not found".
fn with_error(item: TokenStream2, err: syn::Error) -> TokenStream2 {
    let mut out = item;
    err.to_compile_error().to_tokens(&mut out);
    out
}

/// A method declaration without a body parses neither as a function nor as anything the
/// attribute can wrap; say so instead of syn's "expected curly braces".
fn not_a_function(err: syn::Error) -> syn::Error {
    let message = err.to_string();
    if message.contains("curly braces") || message.contains("expected `fn`") {
        syn::Error::new(
            err.span(),
            "`#[s3_operation]` goes on an `async fn` with a body, because it runs the body in its retry loop; in a trait, put it on the method of the `impl`",
        )
    } else {
        err
    }
}
