//! The application's side of the scaling executor, as an async trait: create, register, drain,
//! deregister and destroy instances. [`execute`] runs one [`Action`] through it and returns the
//! [`ActionResult`] to hand back to [`Executor::on_result`](crate::Executor::on_result).
//!
//! Nothing here does I/O or reads a clock: the provider does the I/O, the caller owns the
//! runtime and passes the time when it reports the result.

use async_trait::async_trait;
use ha_core::NodeId;

use crate::{Action, ActionResult};

/// What the application does to instances (a cloud API, an orchestrator, a process
/// supervisor) and to its balancer. Each method returns `Err` with a reason a person can act
/// on. `destroy` must be idempotent and succeed for an instance the provider does not know
/// (it may be asked again, or asked to cancel a create that never happened).
#[async_trait]
pub trait InstanceProvider: Send + Sync {
    /// Creates instance `id` running `revision`. Returns once the provider has accepted it (the
    /// instance may still be booting).
    async fn create(&self, id: &NodeId, revision: u64) -> Result<(), String>;
    /// Adds the instance to the balancer.
    async fn register(&self, id: &NodeId) -> Result<(), String>;
    /// Sends the instance no new work; in-flight work goes on.
    async fn drain(&self, id: &NodeId) -> Result<(), String>;
    /// Removes the instance from the balancer.
    async fn deregister(&self, id: &NodeId) -> Result<(), String>;
    /// Destroys the instance.
    async fn destroy(&self, id: &NodeId) -> Result<(), String>;
}

/// Runs `action` through `provider` and returns how it went.
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Instant;
/// use async_trait::async_trait;
/// use ha_core::NodeId;
/// use ha_scale::{Executor, ExecutorConfig, InstanceProvider, InstanceState, execute};
///
/// #[derive(Default)]
/// struct Log(Mutex<Vec<String>>);
///
/// #[async_trait]
/// impl InstanceProvider for Log {
///     async fn create(&self, id: &NodeId, _: u64) -> Result<(), String> {
///         self.0.lock().map_err(|e| e.to_string())?.push(format!("create {id}"));
///         Ok(())
///     }
///     async fn register(&self, _: &NodeId) -> Result<(), String> { Ok(()) }
///     async fn drain(&self, _: &NodeId) -> Result<(), String> { Ok(()) }
///     async fn deregister(&self, _: &NodeId) -> Result<(), String> { Ok(()) }
///     async fn destroy(&self, _: &NodeId) -> Result<(), String> { Ok(()) }
/// }
///
/// let now = Instant::now();
/// let provider = Log::default();
/// let mut exec = Executor::new(ExecutorConfig::default(), now)?;
/// exec.set_desired(1, "first", now)?;
/// while let Some(action) = exec.poll_action() {
///     let result = futures::executor::block_on(execute(&provider, &action));
///     exec.on_result(&result, now)?;
/// }
/// assert_eq!(exec.instances().next().map(|i| i.lifecycle.state()), Some(InstanceState::Starting));
/// # Ok::<(), ha_scale::Error>(())
/// ```
pub async fn execute<P: InstanceProvider + ?Sized>(provider: &P, action: &Action) -> ActionResult {
    let outcome = match action {
        Action::Create { id, revision } => provider.create(id, *revision).await,
        Action::Register { id } => provider.register(id).await,
        Action::Drain { id } => provider.drain(id).await,
        Action::Deregister { id } => provider.deregister(id).await,
        Action::Destroy { id } => provider.destroy(id).await,
    };
    ActionResult {
        action: action.clone(),
        outcome,
    }
}
