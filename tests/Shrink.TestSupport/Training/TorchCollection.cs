using Xunit;

namespace Shrink.TestSupport;

/// <summary>
/// The "torch" collection: the tests that train or run the executor, one at a time, because the dropout generator and
/// libtorch's threads are process-wide and the bit-exact resume tests must not interleave with other training. xunit
/// reads a collection definition only from the test assembly itself, so this file is compiled into each test project
/// that references Shrink.Training.
/// </summary>
[CollectionDefinition("torch")]
public sealed class TorchCollection;
