//! Loading a store before the first connection.

use std::sync::Arc;

use mqttkit_session::Connect;

use crate::reconnect::SharedStore;
use crate::{Error, StoreError, Stored};

/// Runs `call` on the store off the runtime's threads, since a store may
/// block on the disk.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &SharedStore,
    call: impl FnOnce(&mut dyn crate::Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Error> {
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut store = store
            .lock()
            .map_err(|_| StoreError::Corrupt("a previous store call panicked".into()))?;
        call(&mut *store)
    })
    .await
    .map_err(|err| StoreError::Io(std::io::Error::other(err)));
    result
        .and_then(|inner| inner)
        .map_err(|err| Error::Store(Arc::new(err)))
}

/// The stored state of the client `connect` names.
pub(crate) async fn load(store: &SharedStore, connect: &Connect) -> Result<Stored, Error> {
    if connect.client_id.is_empty() {
        return Err(Error::StoreNeedsClientId);
    }
    blocking(store, |store| store.load()).await
}
