using System.Globalization;
using Shrink.Search;
using Xunit;

namespace Shrink.Tests.Search;

public class ConfigurationTests
{
    private static Configuration Sample() => Configuration.Of(
        ("use_kd", true), ("ratio", 0.3), ("bits", 4), ("block", 32L), ("lr", 1e-3),
        ("method", "l1"), ("order", new[] { "prune", "quantize" }), ("small", 1e-7), ("tiny", -2.5e-9));

    [Fact]
    public void Canonical_form_sorts_keys_and_writes_numbers_one_way_and_the_hash_is_its_sha256()
    {
        var c = Sample();
        Assert.Equal("""{"bits":4,"block":32,"lr":0.001,"method":"l1","order":["prune","quantize"],"ratio":0.3,"small":1e-07,"tiny":-2.5e-09,"use_kd":true}""", c.Canonical);
        // computed outside .NET (Python hashlib over the string above), so the hash is pinned, not re-derived
        Assert.Equal("dcbe3745e9c801a925dbe94ffa481be90474f12cd61c26794e3d679c22d9844e", c.Hash);
    }

    [Fact]
    public void Hash_does_not_depend_on_the_culture_the_order_of_keys_or_the_clr_type_of_a_number()
    {
        var before = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            Assert.Equal("dcbe3745e9c801a925dbe94ffa481be90474f12cd61c26794e3d679c22d9844e", Sample().Hash);
        }
        finally { CultureInfo.CurrentCulture = before; }
        Assert.Equal(Configuration.Of(("a", 4), ("b", "x")).Hash, Configuration.Of(("b", "x"), ("a", 4.0)).Hash);
        Assert.Equal(Configuration.Of(("a", 4L)), Configuration.Of(("a", (byte)4)));
        Assert.Equal("0", CanonicalJson.Number(-0.0));
        Assert.Equal("1.5e+20", CanonicalJson.Number(1.5e20));
        Assert.Throws<ArgumentException>(() => CanonicalJson.Number(double.NaN));
    }

    [Fact]
    public void Json_keeps_the_order_and_reads_back_equal()
    {
        var c = Sample();
        Assert.StartsWith("""{"use_kd":true,"ratio":0.3,"bits":4""", c.Json);
        var back = Configuration.FromJson(c.Json);
        Assert.Equal(c, back);
        Assert.Equal(c.Names, back.Names);
        Assert.Equal(4, back.GetInt("bits"));
        Assert.Equal(0.3, back.GetDouble("ratio"));
        Assert.Equal(["prune", "quantize"], back.Get<string[]>("order"));
        Assert.Throws<KeyNotFoundException>(() => back["missing"]);
    }

    [Fact]
    public void Float_grid_values_are_decimal_exact_so_their_hashes_are_stable()
    {
        var p = Parameter.Float("ratio", 0, 0.9, step: 0.1);
        Assert.Equal(10, p.Cardinality);
        Assert.Equal(["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"], p.Values().Select(v => CanonicalJson.Of(v)));
        Assert.True(p.Contains(CanonicalJson.Normalize(0.30000000000000004)) is false);
        Assert.True(p.Contains(CanonicalJson.Normalize(0.3)));
    }
}
