using LongContext.Gateway.Configuration;
using LongContext.Gateway.Tenancy;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Tests;

public sealed class TenantDirectoryTests
{
    [Fact]
    public void ApiKeyHash_IsLowercaseSha256Hex()
    {
        // SHA-256("abc"), FIPS 180-2 test vector.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ApiKeyHash.ToHex("abc"));
    }

    [Fact]
    public void Authenticate_EachKeyFindsItsOwnTenant_OthersFindNone()
    {
        var directory = new TenantDirectory(Options.Create(new GatewaySettings
        {
            Tenants =
            {
                ["a"] = new TenantConfig { ApiKeyHashes = [ApiKeyHash.ToHex("key-a1"), ApiKeyHash.ToHex("key-a2")], AllowedModels = ["m1"] },
                ["b"] = new TenantConfig { ApiKeyHashes = [ApiKeyHash.ToHex("key-b").ToUpperInvariant()], AllowedModels = ["*"] },
            },
        }));

        Assert.Equal("a", directory.Authenticate("key-a1")?.Id);
        Assert.Equal("a", directory.Authenticate("key-a2")?.Id);
        Assert.Equal("b", directory.Authenticate("key-b")?.Id);
        Assert.Null(directory.Authenticate("key-c"));
        Assert.Null(directory.Authenticate(""));
        Assert.Null(directory.Authenticate(ApiKeyHash.ToHex("key-a1")));
    }

    [Fact]
    public void MayUse_ListedModelsOnly_UnlessWildcard()
    {
        var limited = new Tenant("t", "t", ["m1"]);
        var wildcard = new Tenant("w", "w", [Tenant.AnyModel]);

        Assert.True(limited.MayUse("m1"));
        Assert.False(limited.MayUse("M1"));
        Assert.False(limited.MayUse("m2"));
        Assert.True(wildcard.MayUse("anything"));
    }
}
