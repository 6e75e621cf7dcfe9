// Links libkiln. KILN_LIB_DIR names the directory holding libkiln.so (a meson
// build's capi/ directory, or an install's libdir); without it the system
// linker paths are searched.
fn main() {
    println!("cargo:rerun-if-env-changed=KILN_LIB_DIR");
    if let Ok(dir) = std::env::var("KILN_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-search=native={dir}");
            // Tests and examples of this crate then run without LD_LIBRARY_PATH.
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
    println!("cargo:rustc-link-lib=dylib=kiln");
}
