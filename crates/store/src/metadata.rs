//! The last good FIDO metadata BLOB (`metadata_blobs`), one row per source kind.

use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store};

/// The row the FIDO Metadata Service BLOB is kept under.
pub const MDS: &str = "mds3";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub blob: String,
    pub serial: i64,
    pub next_update: i64,
    pub stored_at: i64,
}

impl Record for StoredBlob {
    const KINDS: &'static [Kind] = &[Kind::Text, Kind::Int, Kind::Int, Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<StoredBlob> {
        Ok(StoredBlob {
            blob: c.text()?,
            serial: c.int()?,
            next_update: c.int()?,
            stored_at: c.int()?,
        })
    }
}

struct Read;

impl Body for Read {
    type Out = Option<StoredBlob>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        fetch_record(
            e,
            "SELECT blob, serial, next_update, stored_at FROM metadata_blobs WHERE source = $1",
            &[Arg::Text(MDS)],
        )
        .await
    }
}

struct Put {
    blob: StoredBlob,
    event: AuditEvent,
}

impl Body for Put {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let b = &self.blob;
        let changed = e
            .exec(
                "INSERT INTO metadata_blobs (source, blob, serial, next_update, stored_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (source) DO UPDATE SET blob = excluded.blob, serial = excluded.serial, \
                 next_update = excluded.next_update, stored_at = excluded.stored_at \
                 WHERE metadata_blobs.serial < excluded.serial",
                &[
                    Arg::Text(MDS),
                    Arg::Text(&b.blob),
                    Arg::Int(b.serial),
                    Arg::Int(b.next_update),
                    Arg::Int(b.stored_at),
                ],
            )
            .await?;
        if changed == 0 {
            return Ok(false);
        }
        audit::write_with(e, &self.event).await?;
        Ok(true)
    }
}

struct Serial;

impl Body for Serial {
    type Out = Option<i64>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        fetch_record(
            e,
            "SELECT serial FROM metadata_blobs WHERE source = $1",
            &[Arg::Text(MDS)],
        )
        .await
    }
}

impl Store {
    /// The stored BLOB's serial number, without reading the BLOB.
    pub async fn metadata_serial(&self) -> Result<Option<i64>> {
        self.read(Serial).await
    }

    /// The last good metadata BLOB, if one was ever stored.
    pub async fn metadata_blob(&self) -> Result<Option<StoredBlob>> {
        self.read(Read).await
    }

    /// Stores a verified BLOB unless the stored one's serial is as high; `event` is
    /// written in the same commit when it is stored. Whether it was stored.
    pub async fn put_metadata_blob(&self, blob: StoredBlob, event: AuditEvent) -> Result<bool> {
        self.transact(Put { blob, event }).await
    }
}
