using LongContext.Ledger.Spend;
using LongContext.Ledger.Sqlite;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Tests;

public sealed class SqliteSpendLedgerTests : SpendLedgerContractTests, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-ledger-").FullName;

    protected override async Task<ISpendLedger> OpenAsync() => await SqliteSpendLedger.OpenAsync(Path.Combine(_directory, "ledger.db"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
