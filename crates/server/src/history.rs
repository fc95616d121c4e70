//! Conversation history in SQLite (`--db FILE`): WAL journal, full sync (a write that was
//! acknowledged survives a kill -9 of the server), schema versions in `PRAGMA user_version`
//! applied in order at start. Without a database the web page keeps conversations in memory.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Schema migrations, in order; `user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);",
    // The thinking of an answer, its token count and time, shown folded by the page.
    "ALTER TABLE messages ADD COLUMN reasoning TEXT;
    ALTER TABLE messages ADD COLUMN reasoning_tokens INTEGER;
    ALTER TABLE messages ADD COLUMN thinking_ms INTEGER;",
];

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("history database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("history database: lock poisoned")]
    Poisoned,
}

#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Message {
    #[serde(default)]
    pub id: i64,
    pub role: String,
    pub content: String,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub reasoning_tokens: Option<i64>,
    #[serde(default)]
    pub thinking_ms: Option<i64>,
}

#[derive(Clone)]
pub struct History {
    conn: Arc<Mutex<Connection>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl History {
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let open_err = |source| HistoryError::Open { path: path.display().to_string(), source };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open_err)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(open_err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let tx = conn.transaction().map_err(open_err)?;
            tx.execute_batch(sql).map_err(open_err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(open_err)?;
            tx.commit().map_err(open_err)?;
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, HistoryError> {
        let mut c = self.conn.lock().map_err(|_| HistoryError::Poisoned)?;
        Ok(f(&mut c)?)
    }

    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    pub fn list(&self) -> Result<Vec<Conversation>, HistoryError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, title, created_at, updated_at FROM conversations ORDER BY updated_at DESC, id DESC",
            )?;
            let rows = st.query_map([], |r| {
                Ok(Conversation { id: r.get(0)?, title: r.get(1)?, created_at: r.get(2)?, updated_at: r.get(3)? })
            })?;
            rows.collect()
        })
    }

    pub fn create(&self, title: &str) -> Result<Conversation, HistoryError> {
        let t = now_ms();
        self.with(|c| {
            c.execute(
                "INSERT INTO conversations (title, created_at, updated_at) VALUES (?1, ?2, ?2)",
                params![title, t],
            )?;
            Ok(Conversation { id: c.last_insert_rowid(), title: title.to_string(), created_at: t, updated_at: t })
        })
    }

    pub fn get(&self, id: i64) -> Result<Option<(Conversation, Vec<Message>)>, HistoryError> {
        self.with(|c| {
            let conv = c
                .query_row("SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?1", [id], |r| {
                    Ok(Conversation { id: r.get(0)?, title: r.get(1)?, created_at: r.get(2)?, updated_at: r.get(3)? })
                })
                .optional()?;
            let Some(conv) = conv else { return Ok(None) };
            let mut st = c.prepare(
                "SELECT id, role, content, reasoning, reasoning_tokens, thinking_ms FROM messages WHERE conversation_id = ?1 ORDER BY id",
            )?;
            let msgs = st
                .query_map([id], |r| {
                    Ok(Message {
                        id: r.get(0)?,
                        role: r.get(1)?,
                        content: r.get(2)?,
                        reasoning: r.get(3)?,
                        reasoning_tokens: r.get(4)?,
                        thinking_ms: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some((conv, msgs)))
        })
    }

    pub fn rename(&self, id: i64, title: &str) -> Result<bool, HistoryError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE conversations SET title = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, title, now_ms()],
            )? > 0)
        })
    }

    pub fn delete(&self, id: i64) -> Result<bool, HistoryError> {
        self.with(|c| Ok(c.execute("DELETE FROM conversations WHERE id = ?1", [id])? > 0))
    }

    /// Append a message; `None` when the conversation does not exist. Returns once committed.
    pub fn add_message(&self, conversation: i64, m: &Message) -> Result<Option<i64>, HistoryError> {
        let t = now_ms();
        self.with(|c| {
            let tx = c.transaction()?;
            if tx.execute("UPDATE conversations SET updated_at = ?2 WHERE id = ?1", params![conversation, t])? == 0 {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO messages (conversation_id, role, content, reasoning, reasoning_tokens, thinking_ms, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![conversation, m.role, m.content, m.reasoning, m.reasoning_tokens, m.thinking_ms, t],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Some(id))
        })
    }

    /// `PRAGMA integrity_check` says "ok".
    pub fn integrity_ok(&self) -> Result<bool, HistoryError> {
        self.with(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))? == "ok"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_keeps_and_deletes() {
        let dir = std::env::temp_dir().join(format!("reasoner-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.db");
        let _ = std::fs::remove_file(&path);
        let h = History::open(&path).unwrap();
        assert_eq!(h.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let c = h.create("first").unwrap();
        let m = Message {
            id: 0,
            role: "user".into(),
            content: "hi".into(),
            reasoning: None,
            reasoning_tokens: None,
            thinking_ms: None,
        };
        assert!(h.add_message(c.id, &m).unwrap().is_some());
        assert!(h.add_message(c.id + 100, &m).unwrap().is_none());
        assert!(h.rename(c.id, "renamed").unwrap());
        drop(h);
        let h = History::open(&path).unwrap(); // reopening applies nothing twice
        let (conv, msgs) = h.get(c.id).unwrap().unwrap();
        assert_eq!((conv.title.as_str(), msgs.len()), ("renamed", 1));
        assert!(h.delete(c.id).unwrap());
        assert!(h.get(c.id).unwrap().is_none());
        assert!(h.integrity_ok().unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
