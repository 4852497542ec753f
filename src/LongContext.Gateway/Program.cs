using LongContext.Gateway.Hosting;
using LongContext.Gateway.Routing;
using LongContext.Gateway.Tenancy;
using Microsoft.Extensions.Options;

if (args is ["hash-key", var key])
{
    // Prints the digest to put under Tenants:<id>:ApiKeyHashes; the key itself is never stored.
    Console.WriteLine(ApiKeyHash.ToHex(key));
    return 0;
}

if (args is ["calibrate", .. var calibrateArgs])
{
    return CalibrateCommand.Run(calibrateArgs, Console.Out, Console.Error);
}

if (args is ["ingest", .. var ingestArgs])
{
    return await LongContext.Gateway.Corpora.IngestCommand.RunAsync(ingestArgs, Console.Out, Console.Error);
}

if (args is ["eval", .. var evalArgs])
{
    return await LongContext.Evaluation.EvalCommand.RunAsync(evalArgs, Console.Out, Console.Error);
}

if (args is ["serve-backend", .. var backendArgs])
{
    return await LongContext.Gateway.Backend.ServeBackendCommand.RunAsync(backendArgs, Console.Error);
}

if (args is ["kv-plan", .. var planArgs])
{
    return KvPlanCommand.Run(planArgs, Console.Out, Console.Error);
}

if (args is ["probe", .. var probeArgs])
{
    return await LongContext.Gateway.Health.ProbeCommand.RunAsync(probeArgs, Console.Error);
}

if (args is ["train-reference", .. var trainArgs])
{
    return LongContext.Gateway.Backend.TrainReferenceCommand.Run(trainArgs, Console.Out, Console.Error);
}

try
{
    await GatewayApp.Build(args).RunAsync();
    return 0;
}
catch (Exception e) when (e is GatewayStartupException or OptionsValidationException)
{
    await Console.Error.WriteLineAsync("LongContext.Gateway cannot start: " + e.Message);
    return 1;
}
