"""ElementwiseKernel runs its own CUDA C++ body, line by line, on NumPy arrays.

CuPy compiles ``ElementwiseKernel(in_params, out_params, operation, name)``
into a CUDA kernel that runs ``operation`` once per element. The stand-in
translates ``operation`` (the subset of C++ that elementwise bodies use) into
NumPy statements over whole arrays, every element at once, so the test runs
the kernel's real body, not a copy of its maths:

    declarations, = += -= *= /= ++ --    one NumPy statement each
    arithmetic, comparisons, && || ! ?:  NumPy's operators; / and % as C's on ints
    casts (T)0.5, (int)x, math functions C's types kept: a bare 0.5 is a double
    i                                    the element's index: C order of the output shape
    raw T a, read a[index]               a flat read in C order (CuPy's CArray::operator[])
    for (int u = 0; u < k; u++) ...      a Python loop; its condition must be the same
                                         for every element (a scalar bound)
    if (cond) stmt; / if (cond) { ... }  masked: where cond is false every variable
                                         keeps its value

C's types are kept: a bare ``0.5`` is a double and turns float32 arithmetic
into float64 until the assignment casts it back, as in C++. Under an ``if``
each element's index into a raw array is computed even where the element
does not enter; there it reads nothing (clipped), and an element that does
enter and reads outside the array raises IndexError. What the translation
does not know (else, while, break, writing to a raw array, _ind, a raw read
inside ?: && ||, a loop whose bound differs between elements) is a
NotImplementedError naming it.

As in CuPy, the type placeholder (T) is fixed by the array arguments, raw
ones included, which must all have the same dtype (else ``TypeError: Type is
mismatched``), scalars are cast to it, host arrays are refused, and outputs
not passed are allocated. The non-raw arrays decide the shape; with none,
``size=`` must. One launch per call.

RawKernel cannot run CUDA C++ on the CPU: it counts its launch and runs the
plain form registered for its name in ``RawKernel.plain_forms``, or raises.
"""

from __future__ import annotations

import functools
import keyword
import math
import re

import numpy as np

from ._array import garbage, kernel_arg, ndarray, wrap
from ._ledger import LEDGER

_TOKEN = re.compile(r"""\s*(?:
      (?P<num>(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|\d+[eE][-+]?\d+[fF]?|\d+[uUlL]*)
    | (?P<name>[A-Za-z_]\w*)
    | (?P<op>\+\+|--|\+=|-=|\*=|/=|==|!=|<=|>=|&&|\|\||[-+*/%()?:,;=<>!{}\[\]&]))""", re.X)
_C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "bool": np.bool_,
            "long": np.int64, "float32": np.float32, "float64": np.float64,
            "int32": np.int32, "int64": np.int64, "uint32": np.uint32, "uint64": np.uint64,
            "ptrdiff_t": np.int64}
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
    """'T x, raw T y, int32 k' -> [(type, name, raw)]."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        words = part.split()
        raw = words[0] == "raw"
        if raw:
            words = words[1:]
        if len(words) != 2:
            raise NotImplementedError(f"parameter {part!r}: the stand-in reads 'type name' "
                                      "and 'raw type name'")
        out.append((words[0], words[1], raw))
    return out


class _Translator:
    """A kernel body -> Python source over NumPy arrays (helpers: _cast, _where, _raw...).

    Expressions become one Python expression each (expr and below); statements
    one line or more each (statement and below), indented inside loops. ``masks``
    holds the Python name of the mask each enclosing ``if`` made ("None" outside
    any), ``scopes`` the C type of each name visible (parameters, locals, i).
    """

    ASSIGN = ("=", "+=", "-=", "*=", "/=")

    def __init__(self, code, in_names, out_names, raw_names, placeholders):
        code = re.sub(r"//[^\n]*|/\*.*?\*/", " ", code, flags=re.S)
        self.tokens, pos = [], 0
        while code[pos:].strip():
            m = _TOKEN.match(code, pos)
            if not m:
                raise NotImplementedError(f"cannot read the kernel body at {code[pos:pos + 20]!r}")
            self.tokens.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.tokens.append(("op", ";"))                         # CuPy ends the body with ';'
        for name in (*in_names, *out_names):
            _python_safe(name)
        self.i, self.types = 0, placeholders
        self.const = set(in_names) | {"i"}                     # inputs (raw ones too) and i
        self.outputs, self.raw = set(out_names), set(raw_names)
        self.scopes = [dict.fromkeys((*in_names, *out_names)) | {"i": "ptrdiff_t"}]
        self.masks, self.n_masks, self.lazy = ["None"], 0, 0
        self.lines, self.depth = [], 0

    def peek(self, k=0):
        return self.tokens[self.i + k][1] if self.i + k < len(self.tokens) else None

    def take(self, expected=None):
        if self.i == len(self.tokens):
            raise NotImplementedError(f"the kernel body ends where {expected!r} was expected")
        kind, text = self.tokens[self.i]
        if expected is not None and text != expected:
            raise NotImplementedError(f"expected {expected!r} in the kernel body, found {text!r}")
        self.i += 1
        return text

    def is_type(self, word):
        return word in self.types or word in _C_TYPES

    def lookup(self, name):
        """The C type of a visible name (None for a parameter); else NotImplementedError."""
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise NotImplementedError(f"the body uses {name!r}, which is no parameter, local or i "
                                  "(_ind is not modelled)")

    # -- statements ------------------------------------------------------------------

    def translate(self):
        while self.i < len(self.tokens):
            self.statement()
        return "\n".join(self.lines)

    def emit(self, line):
        self.lines.append("    " * self.depth + line)

    def statement(self):
        word = self.peek()
        if word == ";":                                       # an empty statement
            self.take()
        elif word == "{":
            self.take()
            self.block()
        elif word == "if":
            self.if_statement()
        elif word == "for":
            self.for_statement()
        elif word in ("else", "while", "do", "switch", "break", "continue", "return", "goto"):
            raise NotImplementedError(f"{word!r} in a kernel body is not modelled")
        else:
            self.simple()
            self.take(";")

    def block(self):
        """The statements up to the '}' that closes the '{' just taken: a scope of their own."""
        self.scopes.append({})
        while self.peek() != "}":
            self.statement()
        self.take("}")
        self.scopes.pop()

    def body(self):
        """What an if or a for runs: a block, or one statement (a scope of its own too)."""
        if self.peek() == "{":
            self.take()
            self.block()
        else:
            self.scopes.append({})
            self.statement()
            self.scopes.pop()

    def if_statement(self):
        """if (cond) body: the body runs for every element, its updates masked by cond."""
        self.take("if")
        self.take("(")
        cond = self.expr()
        self.take(")")
        outer, self.n_masks = self.masks[-1], self.n_masks + 1
        mask = f"_m{self.n_masks}"
        self.emit(f"{mask} = _bool({cond})" if outer == "None"
                  else f"{mask} = _and({outer}, {cond})")
        self.masks.append(mask)
        self.body()
        self.masks.pop()
        if self.peek() == "else":
            raise NotImplementedError("'else' in a kernel body is not modelled")

    def for_statement(self):
        """for (int u = a; cond; step) body: a Python loop, cond the same for every element.

        The init and the step run for every element (unmasked), the body under the
        enclosing ifs' mask; the step is read where it runs, after the body.
        """
        self.take("for")
        self.take("(")
        self.scopes.append({})                                # the loop variable's
        if not self.is_type(self.peek(1) if self.peek() == "const" else self.peek()):
            raise NotImplementedError("a for loop whose init declares no variable is not modelled")
        self.unmasked(self.simple)
        self.take(";")
        cond = self.expr()
        self.take(";")
        step_at, depth = self.i, 0
        while depth or self.peek() != ")":                    # to the ')' that closes the for
            token = self.take()
            depth += (token == "(") - (token == ")")
        self.take(")")
        self.emit(f"while _uniform({cond}):")
        self.depth += 1
        self.body()
        after, self.i = self.i, step_at
        if self.unmasked(self.simple) not in self.scopes[-1]:
            raise NotImplementedError("a for loop whose step changes another variable than "
                                      "its own is not modelled")
        self.take(")")
        self.i = after
        self.depth -= 1
        self.scopes.pop()

    def unmasked(self, read):
        """``read()`` with no mask in force."""
        self.masks.append("None")
        name = read()
        self.masks.pop()
        return name

    def simple(self):
        """A declaration, an assignment or ++/--, without its ';': returns the name set."""
        if self.peek() == "const":
            self.take()
        if self.peek() in ("++", "--"):                       # ++u
            op = self.take()
            return self.assign(self.take(), op[0] + "=", "1")
        if self.is_type(self.peek()) and self.peek(1) not in self.ASSIGN:
            ctype, name = self.take(), self.take()
            self.take("=")
            value = self.expr()
            if any(name in scope for scope in self.scopes):
                raise NotImplementedError(f"the body declares {name!r} again (shadowing is "
                                          "not modelled)")
            self.scopes[-1][_python_safe(name)] = ctype
            self.emit(f"{name} = _cast({ctype!r}, {value})")
            return name
        name = self.take()
        if self.peek() == "[":
            raise NotImplementedError(f"writing to raw {name}[...] is not modelled")
        op = self.take()
        if op in ("++", "--"):                                # u++
            return self.assign(name, op[0] + "=", "1")
        if op not in self.ASSIGN:
            raise NotImplementedError(f"expected an assignment to {name!r}, found {op!r}")
        return self.assign(name, op, self.expr())

    def assign(self, name, op, value):
        if name in self.const:
            raise NotImplementedError(f"the body assigns to input {name}, which is const")
        ctype, mask = self.lookup(name), self.masks[-1]
        if op != "=":
            value = f"({name} {op[0]} ({value}))"
        if name in self.outputs:
            self.emit(f"_store({name}, {value}, {mask})")
        elif mask == "None":
            self.emit(f"{name} = _cast({ctype!r}, {value})")
        else:                                                 # elements outside keep theirs
            self.emit(f"{name} = _cast({ctype!r}, _where({mask}, {value}, {name}))")
        return name

    # -- expressions -----------------------------------------------------------------

    def expr(self):                                   # a ? b : c
        cond = self.binary(0)
        if self.peek() == "?":
            self.take()
            self.lazy += 1                             # C evaluates one of the two
            a = self.expr()
            self.take(":")
            b = self.expr()
            self.lazy -= 1
            return f"_where({cond}, {a}, {b})"
        return cond

    LEVELS = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self.LEVELS[level]:
            op = self.take()
            self.lazy += op in ("&&", "||")            # C may not evaluate the right side
            right = self.binary(level + 1)
            self.lazy -= op in ("&&", "||")
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
        if kind == "name" and self.peek() == "[":
            return self.raw_read(text)
        if kind == "name":
            self.lookup(text)
            return text
        raise NotImplementedError(f"unexpected {text!r} in the kernel body")

    def raw_read(self, name):
        """a[index] of a raw parameter, checked for the elements the enclosing ifs let in."""
        if name not in self.raw:
            raise NotImplementedError(f"{name}[...]: only raw parameters are indexed")
        if self.lazy:
            raise NotImplementedError(f"a read of raw {name} inside ?:, && or || (C reads it "
                                      "for some elements only) is not modelled")
        self.take("[")
        index = self.expr()
        self.take("]")
        return f"_raw({name}, {index}, {self.masks[-1]}, {name!r})"


@functools.cache
def translate(operation, in_names, out_names, raw_names, placeholders):
    """The body as Python source: one statement or more per C statement."""
    return _Translator(operation, in_names, out_names, raw_names, placeholders).translate()


class ElementwiseKernel:
    """cupy.ElementwiseKernel whose body runs on NumPy arrays (see the module's docstring)."""

    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, loop_prep="", after_loop="",
                 **kwargs):
        if preamble or loop_prep or after_loop:
            raise NotImplementedError("preamble, loop_prep and after_loop are not modelled")
        self.in_params, self.out_params = _params(in_params), _params(out_params)
        if any(raw for _, _, raw in self.out_params):
            raise NotImplementedError("raw outputs are not modelled")
        self.operation, self.name = operation, name
        self.nin, self.nout = len(self.in_params), len(self.out_params)
        self.return_tuple, self.no_return = return_tuple, no_return
        params = self.in_params + self.out_params
        placeholders = {t for t, _, _ in params if t not in _C_TYPES}
        self._source = translate(operation, tuple(n for _, n, _ in self.in_params),
                                 tuple(n for _, n, _ in self.out_params),
                                 frozenset(n for _, n, raw in params if raw),
                                 frozenset(placeholders))
        self._code = compile(self._source, f"<ElementwiseKernel {name}>", "exec")

    def __call__(self, *args, size=None, stream=None):
        if len(args) not in (self.nin, self.nin + self.nout):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        values = [kernel_arg(a) for a in args]          # host arrays: TypeError, as CuPy
        params = self.in_params + self.out_params[:len(args) - self.nin]
        types = {}
        for (ctype, pname, _), v in zip(params, values):
            if ctype not in _C_TYPES and isinstance(v, np.ndarray):
                types.setdefault(ctype, {})[pname] = v.dtype
        resolved = {}
        for ctype, seen in types.items():
            if len(set(seen.values())) > 1:
                raise TypeError("Type is mismatched. " + " ".join(
                    f"{n} {d}" for n, d in seen.items()) + f" {ctype}")
            resolved[ctype] = next(iter(seen.values())).type
        for ctype, pname, raw in params:                 # only scalars bound to T: float64
            if ctype not in _C_TYPES and ctype not in resolved:
                resolved[ctype] = np.result_type(values[params.index((ctype, pname, raw))]).type
        shape = _loop_shape(params, values, size)
        env = {"_f32": np.float32, "_f64": np.float64, "_fn": _FUNCS, "_where": np.where,
               "_and": np.logical_and, "_or": np.logical_or, "_not": np.logical_not,
               "_bool": lambda x: np.asarray(x, dtype=bool), "_div": _div, "_mod": np.fmod,
               "_uniform": _uniform, "_raw": _raw, "_store": _store,
               "_cast": lambda t, x: _dtype(t, resolved).type(x) if np.ndim(x) == 0
               else np.asarray(x).astype(_dtype(t, resolved), copy=False)}
        for (ctype, pname, raw), v in zip(params[:self.nin], values):
            if not isinstance(v, np.ndarray):
                env[pname] = _dtype(ctype, resolved).type(v)
            elif raw:
                env[pname] = np.asarray(v, _dtype(ctype, resolved))
            else:
                env[pname] = np.broadcast_to(np.asarray(v, _dtype(ctype, resolved)), shape)
        outs = list(values[self.nin:])
        for ctype, pname, _ in self.out_params[len(outs):]:
            outs.append(garbage(np.empty(shape, _dtype(ctype, resolved))))   # as unwritten
        for (ctype, pname, _), out in zip(self.out_params, outs):
            if out.shape != shape:
                raise ValueError(f"Out shape is mismatched: {pname} {out.shape}, not {shape}")
            env[pname] = out
        if "i" in self._code.co_names:                   # the element's index, in C order
            env["i"] = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
        if 0 not in shape:                               # CuPy launches nothing for no element
            LEDGER.record("launch", f"ElementwiseKernel {self.name}")
        with np.errstate(all="ignore"):                 # a GPU raises no floating-point errors
            exec(self._code, env)
        results = [args[self.nin + k] if self.nin + k < len(args) else wrap(o)
                   for k, o in enumerate(outs)]
        if self.no_return:
            return None
        return tuple(results) if len(results) > 1 or self.return_tuple else results[0]


def _python_safe(name):
    """``name``, unless Python reserves it or it starts with _ as the translation's own do."""
    if keyword.iskeyword(name) or name.startswith("_"):
        raise NotImplementedError(f"the name {name!r} is not modelled (a Python keyword, or "
                                  "a leading _, as the translation's own names have)")
    return name


def _loop_shape(params, values, size):
    """The non-raw arrays' broadcast shape, or (size,) where every array is raw (CuPy's rule)."""
    arrays = [v for (_, _, raw), v in zip(params, values) if not raw and isinstance(v, np.ndarray)]
    if size is not None:
        if arrays:
            raise ValueError("Specified 'size' can be used only if all of the ndarray are 'raw'.")
        return (size,)
    if not arrays:
        raise ValueError("Loop size is undecided.")
    return np.broadcast_shapes(*(a.shape for a in arrays))


def _dtype(ctype, resolved):
    return np.dtype(resolved[ctype] if ctype in resolved else _C_TYPES[ctype])


def _div(a, b):
    if np.result_type(a).kind in "iu" and np.result_type(b).kind in "iu":
        return np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))   # C's division
    return np.true_divide(a, b)


def _uniform(cond):
    """A for loop's condition, which must be the same for every element."""
    values = np.unique(np.asarray(cond, dtype=bool))
    if values.size > 1:
        raise NotImplementedError("a for loop whose condition differs between elements is "
                                  "not modelled")
    return bool(values.size and values[0])


def _raw(a, index, mask, name):
    """a[index], ``index`` flat in C order (CuPy's CArray::operator[]). Where ``mask`` is
    False (an element an if kept out) the index is clipped and the value unused; an element
    that reads outside ``a`` raises, as a GPU would fault or read garbage."""
    flat, index = a.reshape(-1), np.asarray(index)
    outside = (index < 0) | (index >= flat.size)
    if mask is not None:
        outside = outside & mask
    if outside.any():
        at = np.flatnonzero(outside)
        raise IndexError(f"raw {name}[...] of {flat.size} elements read out of bounds by "
                         f"{len(at)} element(s), the first {at[0]}")
    if flat.size == 0:
        return np.zeros(index.shape, a.dtype)
    return flat[np.clip(index, 0, flat.size - 1)]


def _store(out, x, mask):
    """out = x for every element, or only where ``mask`` is True; C's casts (unsafe)."""
    np.copyto(out, x, casting="unsafe", where=True if mask is None else mask)


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
