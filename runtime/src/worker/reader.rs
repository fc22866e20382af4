//! The worker's reader thread: reads every frame from the host as it arrives.
//!
//! Broker answers go straight to the guest waiting in a host call, refusals to the broker client,
//! everything else to the main loop. The moment the host's end closes, a worker process exits —
//! so it never outlives its host, even while a guest is busy — and a thread worker's guest is
//! stopped at its next epoch tick.

use super::Stop;
use super::broker_client::BrokerInbox;
use crate::ipc::frame;
use crate::ipc::protocol::ToWorker;
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

/// A frame for the main loop: its header and payload.
pub(super) type Frame = (ToWorker, Vec<u8>);

/// Starts the reader on `reader`; returns the main loop's end of its channel.
pub(super) fn start(
    mut reader: BufReader<UnixStream>,
    inbox: BrokerInbox,
    stop: Option<Arc<Stop>>,
) -> Result<Receiver<Frame>, String> {
    let (tx, rx) = std::sync::mpsc::channel::<Frame>();
    std::thread::Builder::new()
        .name("wasmproc-reader".into())
        .spawn(move || read_loop(&mut reader, &inbox, &tx, stop.as_deref()))
        .map_err(|e| e.to_string())?;
    Ok(rx)
}

fn read_loop(reader: &mut BufReader<UnixStream>, inbox: &BrokerInbox, tx: &Sender<Frame>, stop: Option<&Stop>) {
    loop {
        match frame::read_frame::<ToWorker>(reader) {
            Ok(Some((ToWorker::BrokerReply(reply), payload))) => {
                if !inbox.answer(reply, payload) {
                    return;
                }
            }
            Ok(Some((ToWorker::Refused { object }, _))) => inbox.refused(object),
            Ok(Some(frame)) => {
                if tx.send(frame).is_err() {
                    return;
                }
            }
            // The host is gone (or sent garbage, or stopped this thread worker): nobody will read
            // our results.
            Ok(None) | Err(_) => match stop {
                None => std::process::exit(0),
                Some(stop) => {
                    stop.orphaned();
                    return;
                }
            },
        }
    }
}
