# Sourced by the bench scripts, from the repository root: builds the CLI once and defines what they share.
dotnet build src/Shrink.Cli -c Release -v quiet -nologo >/dev/null

# shrink ARGS: the command just built.
shrink() { dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll "$@"; }

# require_trained DIR MODEL...: every DIR/MODEL.onnx exists, else exit 2 saying which script makes them.
require_trained() {
  local dir=$1
  shift
  for m in "$@"; do
    [ -f "$dir/$m.onnx" ] || { echo "missing $dir/$m.onnx: run bench/train_accuracy.sh first" >&2; exit 2; }
  done
}
