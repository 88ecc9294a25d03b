using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Optim;

/// <summary>
/// A first-order optimizer over named parameters. Its state (momentum buffers, Adam moments, step
/// count) is exposed by name so checkpoints can save and restore it exactly.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<(string Name, TorchSharp.Modules.Parameter Tensor)> _parameters;
    private readonly Dictionary<string, Tensor> _state = new();
    private readonly List<Scalar> _scalars = new();

    protected Optimizer(IEnumerable<(string Name, TorchSharp.Modules.Parameter Tensor)> parameters, double learningRate, double weightDecay)
    {
        _parameters = parameters.ToList();
        OptimizerOptions.CheckRate(learningRate, weightDecay);
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>The learning rate of the next step (schedules set it).</summary>
    public double LearningRate { get; set; }

    /// <summary>The weight decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>Optimizer steps taken.</summary>
    public long Steps { get; set; }

    /// <summary>The parameters, by name.</summary>
    public IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Tensor)> Parameters => _parameters;

    /// <summary>The state slots a parameter gets at its first update (named PARAMETER:SLOT in <see cref="State"/>), each shaped like the parameter.</summary>
    public abstract IReadOnlyList<string> Slots { get; }

    /// <summary>Named state tensors (for checkpoints).</summary>
    public IReadOnlyDictionary<string, Tensor> State => _state;

    /// <summary>Clears the gradients.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in _parameters)
            using (var g = p.grad)
                g?.zero_();
    }

    /// <summary>Applies one update from the current gradients. Parameters without a gradient are skipped.</summary>
    public void Step()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Steps++;
        try
        {
            foreach (var (name, p) in _parameters)
            {
                if (!p.requires_grad) continue;
                var grad = p.grad;
                if (grad is null) continue;
                Update(name, p, grad);
            }
        }
        finally
        {
            foreach (var s in _scalars) s.Dispose();
            _scalars.Clear();
        }
    }

    /// <summary>
    /// A scalar operand held until the step ends. TorchSharp's implicit Scalar conversions (a double
    /// argument, or the default alpha of add) leave the Scalar to the finalizer, which can free it
    /// while the native call still reads it: "Unknown scalar type" or a failed check in
    /// c10::Scalar under GC pressure (TorchSharp's own SGD fails the same way). Every scalar operand
    /// here is explicit and referenced until the step ends.
    /// </summary>
    protected Scalar S(double value)
    {
        var s = value.ToScalar();
        _scalars.Add(s);
        return s;
    }

    /// <summary>Updates one parameter in place (called under no_grad, inside a dispose scope).</summary>
    protected abstract void Update(string name, Tensor parameter, Tensor grad);

    /// <summary>A state tensor, created as zeros like the parameter on first use.</summary>
    protected Tensor StateOf(string name, string slot, Tensor like)
    {
        var key = $"{name}:{slot}";
        if (!_state.TryGetValue(key, out var t))
            _state[key] = t = torch.zeros_like(like).DetachFromDisposeScope();
        return t;
    }

    /// <summary>Replaces the state (restoring a checkpoint); tensors are copied.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, long steps)
    {
        foreach (var t in _state.Values) t.Dispose();
        _state.Clear();
        foreach (var (k, v) in state) _state[k] = v.clone().DetachFromDisposeScope();
        Steps = steps;
    }

    public void Dispose()
    {
        foreach (var t in _state.Values) t.Dispose();
        _state.Clear();
    }

    /// <summary>Makes an optimizer by name: sgd, adam or adamw.</summary>
    public static Optimizer Create(string name, IEnumerable<(string Name, TorchSharp.Modules.Parameter Tensor)> parameters, OptimizerOptions o) =>
        name switch
        {
            "sgd" => new Sgd(parameters, o.LearningRate, o.Momentum, o.Nesterov, o.WeightDecay),
            "adam" => new Adam(parameters, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, decoupled: false),
            "adamw" => new Adam(parameters, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, decoupled: true),
            _ => throw new OptionsException($"unknown optimizer '{name}'; choose sgd, adam or adamw"),
        };
}

/// <summary>Optimizer hyper-parameters (defaults are PyTorch's, with SGD momentum 0.9).</summary>
public sealed record OptimizerOptions
{
    public double LearningRate { get; init; } = 0.01;
    public double Momentum { get; init; } = 0.9;
    public bool Nesterov { get; init; }
    public double WeightDecay { get; init; }
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>
    /// Checks the values <paramref name="optimizer"/> (sgd, adam or adamw) uses, as making it would, so that a run of many
    /// trainings (a search) refuses a bad one before it starts; a bad value raises <see cref="OptionsException"/> naming it.
    /// </summary>
    public OptimizerOptions Validate(string optimizer)
    {
        CheckRate(LearningRate, WeightDecay);
        if (optimizer == "sgd") CheckMomentum(Momentum, Nesterov);
        else CheckBetas(Beta1, Beta2);
        return this;
    }

    internal static void CheckRate(double learningRate, double weightDecay)
    {
        if (learningRate <= 0 || double.IsNaN(learningRate)) throw OptionsException.For(nameof(LearningRate), $"must be positive, got {learningRate}");
        if (weightDecay < 0) throw OptionsException.For(nameof(WeightDecay), $"must be zero or positive, got {weightDecay}");
    }

    internal static void CheckMomentum(double momentum, bool nesterov)
    {
        if (momentum is < 0 or >= 1) throw OptionsException.For(nameof(Momentum), $"must be in [0, 1), got {momentum}");
        if (nesterov && momentum == 0) throw OptionsException.For(nameof(Nesterov), "needs a momentum above 0");
    }

    internal static void CheckBetas(double beta1, double beta2)
    {
        if (beta1 is < 0 or >= 1 || beta2 is < 0 or >= 1) throw new OptionsException($"Adam betas must be in [0, 1), got {beta1}, {beta2}");
    }
}

/// <summary>Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch's update).</summary>
public sealed class Sgd : Optimizer
{
    private readonly double _momentum;
    private readonly bool _nesterov;

    public Sgd(IEnumerable<(string, TorchSharp.Modules.Parameter)> parameters, double lr, double momentum = 0, bool nesterov = false, double weightDecay = 0)
        : base(parameters, lr, weightDecay)
    {
        OptimizerOptions.CheckMomentum(momentum, nesterov);
        _momentum = momentum;
        _nesterov = nesterov;
    }

    public override IReadOnlyList<string> Slots => _momentum != 0 ? new[] { "momentum" } : Array.Empty<string>();

    protected override void Update(string name, Tensor p, Tensor grad)
    {
        var d = WeightDecay != 0 ? grad.add(p, alpha: S(WeightDecay)) : grad;
        if (_momentum != 0)
        {
            var buffer = StateOf(name, "momentum", p);
            // The buffer starts at zero, so the first step stores the gradient, as PyTorch does.
            buffer.mul_(S(_momentum)).add_(d, alpha: S(1));
            d = _nesterov ? d.add(buffer, alpha: S(_momentum)) : buffer;
        }
        p.add_(d, alpha: S(-LearningRate));
    }
}

/// <summary>Adam (L2 decay added to the gradient) and AdamW (decoupled weight decay), as in PyTorch.</summary>
public sealed class Adam : Optimizer
{
    private readonly double _beta1, _beta2, _eps;
    private readonly bool _decoupled;

    public Adam(IEnumerable<(string, TorchSharp.Modules.Parameter)> parameters, double lr, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool decoupled = false)
        : base(parameters, lr, weightDecay)
    {
        OptimizerOptions.CheckBetas(beta1, beta2);
        (_beta1, _beta2, _eps, _decoupled) = (beta1, beta2, eps, decoupled);
    }

    public override IReadOnlyList<string> Slots { get; } = new[] { "exp_avg", "exp_avg_sq" };

    protected override void Update(string name, Tensor p, Tensor grad)
    {
        if (WeightDecay != 0)
        {
            if (_decoupled) p.mul_(S(1 - LearningRate * WeightDecay));
            else grad = grad.add(p, alpha: S(WeightDecay));
        }
        var m = StateOf(name, "exp_avg", p);
        var v = StateOf(name, "exp_avg_sq", p);
        m.mul_(S(_beta1)).add_(grad, alpha: S(1 - _beta1));
        v.mul_(S(_beta2)).addcmul_(grad, grad, value: S(1 - _beta2));
        var correction1 = 1 - Math.Pow(_beta1, Steps);
        var correction2 = 1 - Math.Pow(_beta2, Steps);
        var denominator = v.sqrt().div_(S(Math.Sqrt(correction2))).add_(S(_eps), S(1));
        p.addcdiv_(m, denominator, value: S(-LearningRate / correction1));
    }
}
