//! The `keyflow` binary: parse the command line, start telemetry, dispatch.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// mimalloc rather than the system allocator: every request allocates and frees small buffers
/// on two threads, which glibc's malloc serves markedly slower (docs/BENCHMARKS-load.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything is created: the data directory and all in it are the owner's alone.
    keyflow::data_dir::restrict_new_files();
    let (cli, warnings) = keyflow::cli::Cli::parse_with_warnings();
    keyflow::cli::init_telemetry(&cli);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = cli.workers() {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(keyflow::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
