using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

internal sealed class LedgerValidator : IValidateOptions<GatewaySettings>
{
    public const string Sqlite = "Sqlite";
    public const string Postgres = "Postgres";

    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var ledger = options.Ledger;
        if (string.Equals(ledger.Store, Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            return ledger.SqliteSynchronous is not ("Full" or "Normal")
                ? ValidateOptionsResult.Fail($"Ledger:SqliteSynchronous '{ledger.SqliteSynchronous}' is not a mode; use Full or Normal.")
                : ValidateOptionsResult.Success;
        }

        if (!string.Equals(ledger.Store, Postgres, StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Fail($"Ledger:Store '{ledger.Store}' is not a ledger store; use {Sqlite} or {Postgres}.");
        }

        return string.IsNullOrWhiteSpace(ledger.PostgresConnectionString)
            ? ValidateOptionsResult.Fail("Ledger:PostgresConnectionString is required when Ledger:Store is Postgres (set it through Ledger__PostgresConnectionString).")
            : ValidateOptionsResult.Success;
    }
}
