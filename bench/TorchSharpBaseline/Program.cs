// Peer benchmark: how fast plain TorchSharp trains lenet300 and lenet5 on full Fashion-MNIST.
// The job matches bench/pytorch_train.py: batch 128 (last partial batch kept), SGD lr 0.01 momentum 0.9,
// mean cross-entropy, a fresh seeded permutation per epoch, 2 intra-op threads. Each epoch's training
// loop is timed (data already in memory); test accuracy is taken after the last epoch. One JSON line per
// model goes to stdout, progress to stderr.
//   dotnet run -c Release --project bench/TorchSharpBaseline -- --model all --epochs 3
using System.Diagnostics;
using System.Globalization;
using Shrink.Data;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

const int Batch = 128;
const int EvalBatch = 1000;
string modelArg = "all", dataDir = FashionMnist.DebianDirectory;
int epochs = 3, threads = 2, seed = 0;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--model": modelArg = args[i + 1]; break;
        case "--epochs": epochs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--data": dataDir = args[i + 1]; break;
        case "--threads": threads = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default: throw new ArgumentException($"unknown option {args[i]}");
    }
}
if (args.Length % 2 != 0)
    throw new ArgumentException($"option {args[^1]} needs a value");
string[] models = modelArg == "all" ? ["lenet300", "lenet5"] : [modelArg];

torch.set_num_threads(threads);
var data = FashionMnist.Load(dataDir);
Console.Error.WriteLine($"train: {data.Train}\ntest: {data.Test}");

foreach (var name in models)
{
    torch.manual_seed(seed);
    using var model = Build(name);
    using var optimizer = torch.optim.SGD(model.parameters(), learningRate: 0.01, momentum: 0.9);
    var times = new double[epochs];
    for (int e = 0; e < epochs; e++)
    {
        times[e] = TrainEpoch(model, optimizer, data.Train);
        Console.Error.WriteLine($"{name} epoch {e + 1}: {times[e]:F3} s");
    }
    double accuracy = Evaluate(model, data.Test);
    var sorted = times.Order().ToArray();
    double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    var list = string.Join(",", times.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)));
    Console.WriteLine(FormattableString.Invariant(
        $"{{\"engine\":\"torchsharp\",\"model\":\"{name}\",\"batch\":{Batch},\"threads\":{threads},\"epochs\":[{list}],\"median_s\":{median:F3},\"test_accuracy\":{accuracy:F4}}}"));
}

// lenet300 is an MLP; lenet5 is Caffe's LeNet (no activation after the convolutions). Default initialisation.
static Module<Tensor, Tensor> Build(string name) => name switch
{
    "lenet300" => Sequential(
        Flatten(),
        Linear(784, 300), ReLU(),
        Linear(300, 100), ReLU(),
        Linear(100, 10)),
    "lenet5" => Sequential(
        Conv2d(1, 20, 5), MaxPool2d(2, 2),
        Conv2d(20, 50, 5), MaxPool2d(2, 2),
        Flatten(),
        Linear(800, 500), ReLU(),
        Linear(500, 10)),
    _ => throw new ArgumentException($"unknown model {name}: expected lenet300, lenet5 or all"),
};

// One epoch over a fresh permutation: per batch, read the rows into a contiguous buffer (the source's Read), make a
// tensor of it, then forward, loss, backward, step, all inside a dispose scope. Returns the wall-clock seconds.
static double TrainEpoch(Module<Tensor, Tensor> model, optim.Optimizer optimizer, IDataSource train)
{
    model.train();
    long[] order;
    using (var perm = torch.randperm(train.Count))
        order = perm.data<long>().ToArray();
    var clock = Stopwatch.StartNew();
    for (int start = 0; start < train.Count; start += Batch)
    {
        int n = Math.Min(Batch, train.Count - start);
        var batch = train.Read(order.Skip(start).Take(n).Select(i => (int)i).ToArray());
        using var scope = torch.NewDisposeScope();
        var input = torch.tensor((float[])batch.Inputs[0].Data, [n, 1, 28, 28]);
        var target = torch.tensor(batch.Labels!.Select(v => (long)v).ToArray(), [n]);
        optimizer.zero_grad();
        var loss = functional.cross_entropy(model.call(input), target);
        loss.backward();
        optimizer.step();
    }
    return clock.Elapsed.TotalSeconds;
}

// Fraction of the test set classified correctly, in batches of 1000 without gradients.
static double Evaluate(Module<Tensor, Tensor> model, IDataSource test)
{
    model.eval();
    using var noGrad = torch.no_grad();
    long correct = 0;
    foreach (var batch in test.Batches(EvalBatch))
    {
        using var scope = torch.NewDisposeScope();
        var predicted = model.call(torch.tensor((float[])batch.Inputs[0].Data, [batch.Count, 1, 28, 28])).argmax(1);
        correct += predicted.eq(torch.tensor(batch.Labels!.Select(v => (long)v).ToArray())).sum().item<long>();
    }
    return (double)correct / test.Count;
}
