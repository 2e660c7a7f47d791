"""ElementwiseKernel runs its own CUDA C++ body, line by line, on NumPy arrays.

CuPy compiles ``ElementwiseKernel(in_params, out_params, operation, name)``
into a CUDA kernel that runs ``operation`` once per element. The stand-in
translates ``operation`` (the subset of C++ that elementwise bodies use:
declarations, assignments and ``+=``..., arithmetic, comparisons, ``? :``,
casts such as ``(T)0.5`` and the math functions) into NumPy statements over
whole arrays, so the test runs the kernel's real body, not a copy of its
maths. C's types are kept: a bare ``0.5`` is a double and turns float32
arithmetic into float64 until the assignment casts it back, as in C++. What
the translation does not know (raw arguments, ``i``, loops, braces) is a
NotImplementedError naming it.

As in CuPy, the type placeholder (T) is fixed by the array arguments, which
must all have the same dtype (else ``TypeError: Type is mismatched``), scalars
are cast to it, host arrays are refused, and outputs not passed are allocated.
One launch per call.

RawKernel cannot run CUDA C++ on the CPU: it counts its launch and runs the
plain form registered for its name in ``RawKernel.plain_forms``, or raises.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from ._array import kernel_arg, ndarray, wrap
from ._ledger import LEDGER

_TOKEN = re.compile(r"""\s*(?:
      (?P<num>(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|\d+[eE][-+]?\d+[fF]?|\d+[uUlL]*)
    | (?P<name>[A-Za-z_]\w*)
    | (?P<op>\+=|-=|\*=|/=|==|!=|<=|>=|&&|\|\||[-+*/%()?:,;=<>!{}\[\]&]))""", re.X)
_C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "bool": np.bool_,
            "long": np.int64, "float32": np.float32, "float64": np.float64,
            "int32": np.int32, "int64": np.int64, "uint32": np.uint32, "uint64": np.uint64}
_FUNCS = {name: getattr(np, np_name) for name, np_name in {
    "tanh": "tanh", "exp": "exp", "log": "log", "expm1": "expm1", "log1p": "log1p",
    "sqrt": "sqrt", "fabs": "fabs", "abs": "abs", "sin": "sin", "cos": "cos", "pow": "power",
    "fmax": "fmax", "fmin": "fmin", "max": "maximum", "min": "minimum", "floor": "floor",
    "ceil": "ceil", "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite",
    "copysign": "copysign", "log2": "log2", "exp2": "exp2", "tan": "tan", "atan": "arctan",
    "sinh": "sinh", "cosh": "cosh", "log10": "log10", "erf": None}.items() if np_name}
_FUNCS.update({f"{k}f": v for k, v in list(_FUNCS.items())})   # tanhf, expf...: float forms
_FUNCS["rsqrt"] = _FUNCS["rsqrtf"] = lambda x: 1 / np.sqrt(x)


def _params(spec):
    """'T x, float32 y' -> [(type, name)]; 'raw' parameters are not modelled."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        words = part.split()
        if words[0] == "raw" or len(words) != 2:
            raise NotImplementedError(f"parameter {part!r}: the stand-in runs elementwise "
                                      "parameters only (no raw)")
        out.append((words[0], words[1]))
    return out


class _Parser:
    """C expressions -> Python expressions over NumPy arrays (helpers: _cast, _where...)."""

    def __init__(self, code, types):
        code = re.sub(r"//[^\n]*|/\*.*?\*/", " ", code, flags=re.S)
        self.tokens, pos = [], 0
        while code[pos:].strip():
            m = _TOKEN.match(code, pos)
            if not m:
                raise NotImplementedError(f"cannot read the kernel body at {code[pos:pos + 20]!r}")
            self.tokens.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.i, self.types = 0, types

    def peek(self, k=0):
        return self.tokens[self.i + k][1] if self.i + k < len(self.tokens) else None

    def take(self, expected=None):
        kind, text = self.tokens[self.i]
        if expected is not None and text != expected:
            raise NotImplementedError(f"expected {expected!r} in the kernel body, found {text!r}")
        self.i += 1
        return text

    def is_type(self, word):
        return word in self.types or word in _C_TYPES

    def expr(self):                                   # a ? b : c
        cond = self.binary(0)
        if self.peek() == "?":
            self.take()
            a = self.expr()
            self.take(":")
            b = self.expr()
            return f"_where({cond}, {a}, {b})"
        return cond

    LEVELS = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self.LEVELS[level]:
            op = self.take()
            right = self.binary(level + 1)
            left = {"||": f"_or({left}, {right})", "&&": f"_and({left}, {right})",
                    "/": f"_div({left}, {right})", "%": f"_mod({left}, {right})"}.get(
                op, f"({left} {op} {right})")
        return left

    def unary(self):
        tok = self.peek()
        if tok in ("-", "+"):
            self.take()
            return f"({tok}{self.unary()})"
        if tok == "!":
            self.take()
            return f"_not({self.unary()})"
        if tok == "(" and self.is_type(self.peek(1)) and self.peek(2) == ")":
            self.take(), self.take(), self.take()
            return f"_cast({self.tokens[self.i - 2][1]!r}, {self.unary()})"
        return self.primary()

    def primary(self):
        kind, text = self.tokens[self.i]
        self.i += 1
        if text == "(":
            inner = self.expr()
            self.take(")")
            return f"({inner})"
        if kind == "num":
            if text[-1] in "fF":
                return f"_f32({text[:-1]})"
            if re.fullmatch(r"\d+[uUlL]*", text):
                return text.rstrip("uUlL")             # an int: Python's int, as weak as C's
            return f"_f64({text})"                     # a double, as in C++
        if kind == "name" and self.peek() == "(":
            if text not in _FUNCS:
                raise NotImplementedError(f"kernel function {text}() is not modelled")
            self.take("(")
            args = [self.expr()]
            while self.peek() == ",":
                self.take()
                args.append(self.expr())
            self.take(")")
            return f"_fn[{text!r}]({', '.join(args)})"
        if kind == "name":
            return text
        raise NotImplementedError(f"unexpected {text!r} in the kernel body")


@functools.cache
def translate(operation, in_names, out_names, placeholders):
    """The body as Python source: one statement per C statement."""
    p = _Parser(operation, placeholders)
    lines, local_types = [], {}
    known = set(in_names) | set(out_names)
    while p.i < len(p.tokens):
        if p.peek() in ("{", "}", "if", "for", "while", "return"):
            raise NotImplementedError(f"{p.peek()!r} in a kernel body is not modelled")
        if p.peek() == "const":
            p.take()
        if p.is_type(p.peek()) and p.peek(1) not in ("=", "+=", "-=", "*=", "/="):
            ctype, name = p.take(), p.take()
            p.take("=")
            lines.append(f"{name} = _cast({ctype!r}, {p.expr()})")
            local_types[name] = ctype
            known.add(name)
        else:
            name, op = p.take(), p.take()
            if name in in_names:
                raise NotImplementedError(f"the body assigns to input {name}, which is const")
            if name not in known:
                raise NotImplementedError(f"the body uses {name!r}, which is no parameter: "
                                          "i, _ind and raw indexing are not modelled")
            value = p.expr() if op == "=" else f"({name} {op[0]} ({p.expr()}))"
            lines.append(f"_store({name}, {value})" if name in out_names
                         else f"{name} = _cast({local_types[name]!r}, {value})")
        if p.i < len(p.tokens):                      # CuPy adds the last statement's ';'
            p.take(";")
    return "\n".join(lines)


class ElementwiseKernel:
    """cupy.ElementwiseKernel whose body runs on NumPy arrays (see the module's docstring)."""

    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, loop_prep="", after_loop="",
                 **kwargs):
        if preamble or loop_prep or after_loop:
            raise NotImplementedError("preamble, loop_prep and after_loop are not modelled")
        self.in_params, self.out_params = _params(in_params), _params(out_params)
        self.operation, self.name = operation, name
        self.nin, self.nout = len(self.in_params), len(self.out_params)
        self.return_tuple, self.no_return = return_tuple, no_return
        placeholders = {t for t, _ in self.in_params + self.out_params if t not in _C_TYPES}
        self._source = translate(operation, tuple(n for _, n in self.in_params),
                                 tuple(n for _, n in self.out_params), frozenset(placeholders))
        self._code = compile(self._source, f"<ElementwiseKernel {name}>", "exec")

    def __call__(self, *args, size=None, stream=None):
        if len(args) not in (self.nin, self.nin + self.nout):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        values = [kernel_arg(a) for a in args]          # host arrays: TypeError, as CuPy
        params = self.in_params + self.out_params[:len(args) - self.nin]
        types = {}
        for (ctype, pname), v in zip(params, values):
            if ctype not in _C_TYPES and isinstance(v, np.ndarray):
                types.setdefault(ctype, {})[pname] = v.dtype
        resolved = {}
        for ctype, seen in types.items():
            if len(set(seen.values())) > 1:
                raise TypeError("Type is mismatched. " + " ".join(
                    f"{n} {d}" for n, d in seen.items()) + f" {ctype}")
            resolved[ctype] = next(iter(seen.values())).type
        for ctype, pname in params:                      # only scalars bound to T: float64
            if ctype not in _C_TYPES and ctype not in resolved:
                resolved[ctype] = np.result_type(values[params.index((ctype, pname))]).type
        shape = np.broadcast_shapes(*(np.shape(v) for v in values if isinstance(v, np.ndarray)))
        env = {"_f32": np.float32, "_f64": np.float64, "_fn": _FUNCS, "_where": np.where,
               "_and": np.logical_and, "_or": np.logical_or, "_not": np.logical_not,
               "_div": _div, "_mod": np.fmod,
               "_cast": lambda t, x: _dtype(t, resolved).type(x) if np.ndim(x) == 0
               else np.asarray(x).astype(_dtype(t, resolved), copy=False),
               "_store": lambda out, x: out.__setitem__(Ellipsis, x)}
        for (ctype, pname), v in zip(params[:self.nin], values):
            env[pname] = (np.broadcast_to(np.asarray(v, _dtype(ctype, resolved)), shape)
                          if isinstance(v, np.ndarray) else _dtype(ctype, resolved).type(v))
        outs = list(values[self.nin:])
        for ctype, pname in self.out_params[len(outs):]:
            outs.append(np.empty(shape, _dtype(ctype, resolved)))
        for (ctype, pname), out in zip(self.out_params, outs):
            if out.shape != shape:
                raise ValueError(f"Out shape is mismatched: {pname} {out.shape}, not {shape}")
            env[pname] = out
        if 0 not in shape:                               # CuPy launches nothing for no element
            LEDGER.record("launch", f"ElementwiseKernel {self.name}")
        with np.errstate(all="ignore"):                 # a GPU raises no floating-point errors
            exec(self._code, env)
        results = [args[self.nin + k] if self.nin + k < len(args) else wrap(o)
                   for k, o in enumerate(outs)]
        if self.no_return:
            return None
        return tuple(results) if len(results) > 1 or self.return_tuple else results[0]


def _dtype(ctype, resolved):
    return np.dtype(resolved[ctype] if ctype in resolved else _C_TYPES[ctype])


def _div(a, b):
    if np.result_type(a).kind in "iu" and np.result_type(b).kind in "iu":
        return np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))   # C's division
    return np.true_divide(a, b)


class RawKernel:
    """cupy.RawKernel: counts its launch, runs the plain form registered for its name."""

    plain_forms: dict = {}     # kernel name -> fn(grid, block, args) run in its place

    def __init__(self, code, name, options=(), backend="nvrtc", **kwargs):
        self.code, self.name, self.options, self.backend = code, name, options, backend

    def __call__(self, grid, block, args, *, shared_mem=0):
        values = [a if isinstance(a, ndarray) else kernel_arg(a) for a in args]
        LEDGER.record("launch", f"RawKernel {self.name}")
        form = self.plain_forms.get(self.name)
        if form is None:
            raise NotImplementedError(f"RawKernel {self.name}: the CPU stand-in cannot run CUDA "
                                      "C++; register a plain form in RawKernel.plain_forms")
        form(grid, block, values)

    def compile(self, log_stream=None):
        return None
