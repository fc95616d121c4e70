//! The engine thread: it owns the step engine, takes requests and cancellations from the HTTP
//! handlers over a channel, steps the batch while there is work, and sends each request's
//! events to its handler. A handler that went away (client disconnected) gets its request
//! cancelled at the next step; a failed step fails only the requests that were in it.

use reasoner_engine::{EngineConfig, EngineError, EngineStatus, Event, Request, RequestId, StepEngine};
use reasoner_model::LoadedModel;
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc as tmpsc, oneshot};

/// What a handler receives for one of its requests.
#[derive(Debug)]
pub enum Msg {
    Event(Event),
    /// The step this request was in failed; it will get nothing more.
    Failed(String),
}

pub type Events = tmpsc::UnboundedReceiver<(RequestId, Msg)>;
type EventSender = tmpsc::UnboundedSender<(RequestId, Msg)>;

enum Command {
    Submit { request: Request, events: EventSender, reply: oneshot::Sender<Result<RequestId, EngineError>> },
    Cancel(RequestId),
    Shutdown,
}

/// The handlers' side: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    status: Arc<Mutex<EngineStatus>>,
}

impl EngineHandle {
    /// Queue a request; its events arrive on `events` tagged with the id this returns.
    pub async fn submit(&self, request: Request, events: EventSender) -> Result<RequestId, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Submit { request, events, reply }).map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    pub fn cancel(&self, id: RequestId) {
        let _ = self.tx.send(Command::Cancel(id));
    }

    /// Ask the loop to finish: it ends once every request it holds is done.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown);
    }

    pub fn status(&self) -> EngineStatus {
        self.status.lock().map(|s| *s).unwrap_or_default()
    }

    /// An unbounded channel for the events of one or more requests.
    pub fn channel() -> (EventSender, Events) {
        tmpsc::unbounded_channel()
    }
}

/// The loop's side, to be run on the thread that drives the model.
pub struct EngineLoop {
    rx: mpsc::Receiver<Command>,
    status: Arc<Mutex<EngineStatus>>,
}

pub fn engine_channel() -> (EngineHandle, EngineLoop) {
    let (tx, rx) = mpsc::channel();
    let status = Arc::new(Mutex::new(EngineStatus::default()));
    (EngineHandle { tx, status: status.clone() }, EngineLoop { rx, status })
}

impl EngineLoop {
    /// Run until shut down (or every handle is dropped) and no request is left.
    pub fn run(self, model: &LoadedModel, cfg: EngineConfig) -> Result<(), EngineError> {
        let mut engine = StepEngine::new(model, cfg)?;
        let mut senders: HashMap<RequestId, EventSender> = HashMap::new();
        let mut stopping = false;
        loop {
            if !engine.has_work() {
                if stopping {
                    break;
                }
                match self.rx.recv() {
                    Ok(cmd) => stopping |= handle(cmd, &mut engine, &mut senders),
                    Err(_) => break,
                }
            }
            while let Ok(cmd) = self.rx.try_recv() {
                stopping |= handle(cmd, &mut engine, &mut senders);
            }
            // Clients that went away: their requests stop taking a place in the batch.
            let gone: Vec<RequestId> = senders.iter().filter(|(_, s)| s.is_closed()).map(|(id, _)| *id).collect();
            for id in gone {
                engine.cancel(id);
                senders.remove(&id);
            }
            if engine.has_work() {
                match engine.step() {
                    Ok(events) => {
                        for ev in events {
                            let id = ev.id();
                            let last = matches!(ev, Event::Finished { .. });
                            let delivered = senders.get(&id).is_some_and(|s| s.send((id, Msg::Event(ev))).is_ok());
                            if !delivered {
                                engine.cancel(id);
                            }
                            if last || !delivered {
                                senders.remove(&id);
                            }
                        }
                    }
                    Err(e) => {
                        let message = format!("generation failed: {e}");
                        for id in engine.abort_running() {
                            if let Some(s) = senders.remove(&id) {
                                let _ = s.send((id, Msg::Failed(message.clone())));
                            }
                        }
                    }
                }
            }
            if let Ok(mut s) = self.status.lock() {
                *s = engine.status();
            }
        }
        Ok(())
    }
}

/// Apply one command; true when it asks the loop to stop.
fn handle(cmd: Command, engine: &mut StepEngine<'_>, senders: &mut HashMap<RequestId, EventSender>) -> bool {
    match cmd {
        Command::Submit { request, events, reply } => {
            let result = engine.add_request(request);
            let id = result.as_ref().ok().copied();
            if let Some(id) = id {
                senders.insert(id, events);
            }
            if reply.send(result).is_err()
                && let Some(id) = id
            {
                // The handler went away before it learned its id.
                engine.cancel(id);
                senders.remove(&id);
            }
            false
        }
        Command::Cancel(id) => {
            engine.cancel(id);
            senders.remove(&id);
            false
        }
        Command::Shutdown => true,
    }
}
