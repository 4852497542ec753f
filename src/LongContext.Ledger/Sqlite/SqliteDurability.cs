namespace LongContext.Ledger.Sqlite;

/// <summary>When a write to the SQLite ledger counts as done.</summary>
public enum SqliteDurability
{
    /// <summary>Once its log frames are on disk: it survives a crash of the process and of the machine.</summary>
    Full,

    /// <summary>Once committed; the log is flushed at checkpoints only. It survives a crash of the process, and the file is never corrupted, but the last writes before a power loss can be lost.</summary>
    Normal,
}
