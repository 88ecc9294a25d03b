using System.Text.Json;
using Shrink.Data;
using Shrink.IO;
using TorchSharp;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training;

/// <summary>The trainer's checkpoints: what they hold, writing one, and continuing from one.</summary>
public sealed partial class Trainer
{
    /// <summary>
    /// What a checkpoint of this trainer's run on <paramref name="train"/> must hold: the model hash,
    /// the options, epochs and batches, and the spec of every tensor it saves.
    /// </summary>
    public CheckpointRun CheckpointRunFor(IDataSource train)
    {
        using var rng = torch.get_rng_state();
        var required = ModelTensors().ToDictionary(t => t.Name, t => CheckpointTensorSpec.Of(t.Tensor));
        required["rng"] = CheckpointTensorSpec.Of(rng);
        foreach (var (name, tensor) in HookStates())
            using (tensor)
                required[name] = CheckpointTensorSpec.Of(tensor);
        var optional = _optimizer.Parameters
            .SelectMany(p => _optimizer.Slots.Select(slot => (Name: $"optim:{p.Name}:{slot}", Spec: CheckpointTensorSpec.Of(p.Tensor))))
            .ToDictionary(t => t.Name, t => t.Spec);
        return new CheckpointRun
        {
            ModelHash = _modelHash, Options = Fingerprint(DataOf(train)), Epochs = Options.Epochs,
            Batches = (train.Count + Options.BatchSize - 1) / Options.BatchSize, BatchSize = Options.BatchSize,
            Required = required, Optional = optional,
        };
    }

    private static string DataOf(IDataSource train) => $"{train.Name}, {train.Count} samples";

    /// <summary>What a resumed run must share with the original: the options, the training data and the hooks' settings.</summary>
    private IReadOnlyDictionary<string, string> Fingerprint(string data)
    {
        var fingerprint = new SortedDictionary<string, string>(Options.Fingerprint().ToDictionary()) { ["data"] = data };
        foreach (var (key, value) in Hooks.SelectMany(h => h.Fingerprint))
            if (!fingerprint.TryAdd(key, value)) throw new ArgumentException($"two training hooks, or a hook and the options, both fingerprint '{key}'");
        return fingerprint;
    }

    /// <summary>The hooks' state as new tensors, by checkpoint name (<c>hook-state:</c> and the hook's own name).</summary>
    private List<(string Name, Tensor Tensor)> HookStates()
    {
        var states = Hooks.SelectMany(h => h.SaveState()).Select(s => (Name: HookStatePrefix + s.Name, s.Tensor)).ToList();
        if (states.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            foreach (var (_, t) in states) t.Dispose();
            throw new ArgumentException($"two training hooks both save a state named '{twice.Key[HookStatePrefix.Length..]}'");
        }
        return states;
    }

    private const string HookStatePrefix = "hook-state:";

    /// <summary>Weights and buffers of the model and the hooks' parameters, by checkpoint name.</summary>
    private IEnumerable<(string Name, Tensor Tensor)> ModelTensors() =>
        Executor.Parameters.Select(p => ("param:" + p.Name, p.Tensor))
            .Concat(Hooks.SelectMany(h => h.Parameters).Select(p => ("hook:" + p.Name, (Tensor)p.Tensor)));

    private void SaveCheckpoint(CheckpointState position)
    {
        if (Options.RunDirectory is not { } dir) return;
        var state = position with { ModelHash = _modelHash, Options = new(Fingerprint(_data)), History = History.ToList() };
        using var rng = torch.get_rng_state();
        var hookStates = HookStates();
        try
        {
            Checkpoint.Save(dir, state, ModelTensors().Concat(_optimizer.State.Select(kv => ("optim:" + kv.Key, kv.Value))).Append(("rng", rng)).Concat(hookStates));
        }
        finally
        {
            foreach (var (_, t) in hookStates) t.Dispose();
        }
        var metrics = Path.Combine(dir, "metrics.json");
        RunOutput.Write(metrics, RunAdvice.Continue($"the checkpoint in {dir} is written"), () =>
            AtomicFile.WriteAllText(metrics, JsonSerializer.Serialize(new { options = Fingerprint(_data), epochs = History },
                new JsonSerializerOptions { WriteIndented = true })));
    }

    /// <summary>Restores weights, hook parameters and state, optimizer state, generator and history; returns the position to continue from.</summary>
    private CheckpointState Restore(CheckpointRun run)
    {
        var chosen = CheckpointResume.Choose(Options.RunDirectory!, run, m => Notice?.Invoke(m));
        if (chosen is null) return new CheckpointState();
        var (state, tensors) = chosen.Value;
        try
        {
            using (torch.no_grad())
                foreach (var (name, target) in ModelTensors()) target.copy_(tensors[name]);
            _optimizer.LoadState(tensors.Where(kv => kv.Key.StartsWith("optim:", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key["optim:".Length..], kv => kv.Value), state.Steps);
            torch.set_rng_state(tensors["rng"]);
            RestoreHooks(tensors);
            History.Clear();
            History.AddRange(state.History);
            return state;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Gives the hooks back the state they saved, by their own names (each hook reads its names; a checkpoint holds all of them).</summary>
    private void RestoreHooks(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var state = tensors.Where(kv => kv.Key.StartsWith(HookStatePrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[HookStatePrefix.Length..], kv => kv.Value);
        if (state.Count == 0) return;
        foreach (var hook in Hooks) hook.LoadState(state);
    }
}
