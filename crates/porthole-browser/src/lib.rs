//! Browser adapter for Porthole (wasm32 only).
