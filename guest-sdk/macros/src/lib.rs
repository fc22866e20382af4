//! The `#[task]` attribute of the wasmproc guest SDK. Use it through `wasmproc_guest::task`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type, parse_macro_input};

/// Turns a plain function into a wasmproc task.
///
/// The function keeps working as ordinary Rust; the attribute adds a registration so the module's
/// dispatcher can find it by name, decode its arguments (postcard or JSON), and encode its result.
///
/// Rules, each reported as a compile error pointing at the offending code:
/// - no arguments to the attribute itself;
/// - a free function: not `async`, no generics, no `self`, no `extern` ABI;
/// - every parameter a plain name (`x: u64`, `mut v: Vec<u8>`) of an owned type (no references, no
///   `impl Trait`);
/// - the result implements `Serialize`, or is `Result<T, E>` with `E: Display`.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    if !attr.is_empty() {
        return syn::Error::new(attr.span(), "#[task] takes no arguments; the task is named after the function")
            .to_compile_error()
            .into();
    }
    let func = parse_macro_input!(item as ItemFn);
    match expand(&func) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#func #err).into()
        }
    }
}

fn expand(func: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    check_signature(sig)?;
    let (names, types) = params(sig)?;
    let fn_name = &sig.ident;
    let task_name = fn_name.to_string().trim_start_matches("r#").to_string();
    let wrapper = format_ident!("__wasmproc_task_{}", task_name);

    let (returns_ty, fallible) = match &sig.output {
        ReturnType::Default => (quote!(()), false),
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => (ok.to_token_stream(), true),
            None => (ty.to_token_stream(), false),
        },
    };
    let returns_text = returns_ty.to_string();

    let params_meta = names.iter().zip(&types).map(|(n, t)| {
        let n = n.to_string().trim_start_matches("r#").to_string();
        let t = t.to_token_stream().to_string();
        quote!((#n, #t))
    });
    let doc = doc_text(func);

    // The argument pattern and type handed to `call_task`: a bare value for one parameter, a tuple
    // otherwise (see `call_task` for why the encodings agree).
    let (arg_pat, arg_ty) = if names.len() == 1 {
        let n = &names[0];
        let t = &types[0];
        (quote!(#n), quote!(#t))
    } else {
        (quote!((#(#names,)*)), quote!((#(#types,)*)))
    };
    let call = quote!(#fn_name(#(#names),*));
    let body = if fallible {
        quote!(#call)
    } else {
        quote!(::core::result::Result::<_, ::core::convert::Infallible>::Ok(#call))
    };
    let span = Span::call_site();
    Ok(quote_spanned! {span=>
        #func

        #[doc(hidden)]
        #[allow(non_snake_case)]
        fn #wrapper(
            codec: ::wasmproc_guest::__private::Codec,
            input: &[u8],
        ) -> ::core::result::Result<(), ::wasmproc_guest::__private::TaskError> {
            ::wasmproc_guest::__private::call_task(codec, input, |#arg_pat: #arg_ty| #body)
        }

        ::wasmproc_guest::__private::inventory::submit! {
            ::wasmproc_guest::__private::TaskDef {
                name: #task_name,
                params: &[#(#params_meta),*],
                returns: #returns_text,
                doc: #doc,
                call: #wrapper,
            }
        }
    })
}

/// A task is a plain, synchronous, non-generic free function.
fn check_signature(sig: &syn::Signature) -> syn::Result<()> {
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(a.span(), "a task cannot be `async`: tasks run to completion on their worker"));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a task cannot be generic: the host needs one concrete signature; write a task per type",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(abi.span(), "a task is a plain Rust function; remove the `extern` ABI"));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(v.span(), "a task cannot be variadic"));
    }
    Ok(())
}

/// The parameters' names and types: plain names of owned types, no `self`.
fn params(sig: &syn::Signature) -> syn::Result<(Vec<syn::Ident>, Vec<Type>)> {
    let mut names = Vec::new();
    let mut types = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(r.span(), "a task cannot take `self`: make it a free function"));
            }
            FnArg::Typed(pt) => {
                let name = match &*pt.pat {
                    Pat::Ident(id) if id.by_ref.is_none() && id.subpat.is_none() => id.ident.clone(),
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "task parameters must be plain names (`x: T`); destructure inside the function",
                        ));
                    }
                };
                check_owned(&pt.ty)?;
                names.push(name);
                types.push((*pt.ty).clone());
            }
        }
    }
    Ok((names, types))
}

/// Tasks receive freshly decoded values, so every parameter must own its data.
fn check_owned(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(r) => Err(syn::Error::new(
            r.span(),
            "task parameters must be owned types (e.g. `String` instead of `&str`, `Vec<T>` instead of `&[T]`)",
        )),
        Type::ImplTrait(i) => Err(syn::Error::new(i.span(), "task parameters need concrete types, not `impl Trait`")),
        Type::Ptr(p) => Err(syn::Error::new(p.span(), "task parameters cannot be raw pointers")),
        Type::Paren(p) => check_owned(&p.elem),
        Type::Tuple(t) => t.elems.iter().try_for_each(check_owned),
        Type::Array(a) => check_owned(&a.elem),
        _ => Ok(()),
    }
}

/// `T` of a return type spelled `Result<T, E>` (or an alias spelled `Result<T>`), by its last path
/// segment: the macro runs before types are resolved, so that is what it can see.
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn doc_text(func: &ItemFn) -> String {
    let lines: Vec<String> = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_string()
}
