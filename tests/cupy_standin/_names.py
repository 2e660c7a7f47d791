"""The names CuPy 14.2 defines, so that the stand-in offers those and no others.

Listed from the installed ``cupy`` (cupy-cuda13x 14.2.0, which imports without a
GPU): ``dir(cupy)`` sorted by kind, ``dir(cupy.linalg)``, ``dir(cupy.ndarray)``...
test_standin.py compares them with the CuPy installed, when there is one, so a
new CuPy that adds or drops a name is noticed.
"""

CUPY_VERSION = "14.2.0"

# cupy.<name> that are cupy.ufunc objects
UFUNCS = frozenset("""
    abs absolute acos acosh add arccos arccosh arcsin arcsinh arctan arctan2 arctanh asin
    asinh atan atan2 atanh bitwise_and bitwise_count bitwise_invert bitwise_left_shift
    bitwise_not bitwise_or bitwise_right_shift bitwise_xor cbrt ceil conj conjugate copysign
    cos cosh deg2rad degrees divide divmod equal exp exp2 expm1 fabs fix float_power floor
    floor_divide fmax fmin fmod frexp gcd greater greater_equal heaviside hypot i0 invert
    isfinite isinf isnan lcm ldexp left_shift less less_equal log log10 log1p log2 logaddexp
    logaddexp2 logical_and logical_not logical_or logical_xor maximum minimum mod modf
    multiply negative nextafter not_equal positive pow power rad2deg radians reciprocal
    remainder right_shift rint sign signbit sin sinc sinh sqrt square subtract tan tanh
    true_divide trunc
""".split())

# the other functions of the cupy namespace
FUNCTIONS = frozenset("""
    all allclose alltrue amax amin angle any append apply_along_axis apply_over_axes arange
    argmax argmin argpartition argsort argwhere around array array2string array_equal
    array_equiv array_repr array_split array_str asanyarray asarray asarray_chkfinite
    ascontiguousarray asfarray asfortranarray asnumpy astype atleast_1d atleast_2d
    atleast_3d average bartlett base_repr binary_repr bincount blackman broadcast_arrays
    broadcast_shapes broadcast_to byte_bounds can_cast choose clear_memo clip column_stack
    common_type compress concat concatenate convolve copy copyto corrcoef correlate
    count_nonzero cov cross cumprod cumproduct cumsum cumulative_prod cumulative_sum delete
    diag diag_indices diag_indices_from diagflat diagonal diff digitize disp dot dsplit
    dstack ediff1d einsum empty empty_like expand_dims extract eye fill_diagonal
    find_common_type flatnonzero flip fliplr flipud format_float_positional
    format_float_scientific fromDlpack from_dlpack frombuffer fromfile fromfunction fromiter
    fromstring full full_like fuse genfromtxt get_array_module get_array_wrap
    get_default_memory_pool get_default_pinned_memory_pool get_printoptions gradient hamming
    hanning histogram histogram2d histogramdd hsplit hstack identity imag in1d indices inner
    interp intersect1d is_available isclose iscomplex iscomplexobj isdtype isfortran isin
    isneginf isposinf isreal isrealobj isscalar issctype issubclass_ issubdtype issubsctype
    iterable ix_ kaiser kron lexsort linspace load loadtxt logspace make_aligned_dtype
    mask_indices matmul matrix_transpose max may_share_memory mean median memoize meshgrid
    min min_scalar_type mintypecode moveaxis msort nan_to_num nanargmax nanargmin nancumprod
    nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar ndim nonzero
    obj2sctype ones ones_like outer packbits pad partition percentile permute_dims piecewise
    place poly polyadd polyfit polymul polysub polyval printoptions prod product
    promote_types ptp put put_along_axis putmask quantile ravel ravel_multi_index real
    real_if_close repeat require reshape resize result_type roll rollaxis roots rot90 round
    round_ row_stack safe_eval save savetxt savez savez_compressed sctype2char searchsorted
    select set_printoptions set_string_function setdiff1d setxor1d shape shares_memory
    show_config size sometrue sort sort_complex split squeeze stack std sum swapaxes take
    take_along_axis tensordot tile trace transpose trapezoid trapz tri tril tril_indices
    tril_indices_from trim_zeros triu triu_indices triu_indices_from typename union1d unique
    unique_all unique_counts unique_inverse unique_values unpackbits unravel_index unwrap
    vander var vdot vsplit vstack where who zeros zeros_like
""".split())

# classes: dtypes, ndarray, the kernels, exceptions
CLASSES = frozenset("""
    AxisError ComplexWarning DataSource ElementwiseKernel ModuleDeprecationWarning
    RankWarning RawKernel RawModule ReductionKernel TooHardError VisibleDeprecationWarning
    bool bool_ broadcast byte cdouble cfloat complex128 complex64 complex_ complexfloating
    csingle double dtype finfo flatiter float16 float32 float64 float_ floating
    format_parser generic half iinfo inexact int16 int32 int64 int8 int_ intc integer intp
    long longlong ndarray ndindex number poly1d short signedinteger single singlecomplex
    ubyte ufunc uint uint16 uint32 uint64 uint8 uintc uintp ulong ulonglong unsignedinteger
    ushort vectorize
""".split())

# constants and index helpers
CONSTANTS = frozenset("""
    Inf Infinity NAN NINF NZERO NaN PINF PZERO c_ disable_experimental_feature_warning e
    euler_gamma index_exp inf infty mgrid nan newaxis ogrid pi r_ s_
""".split())

# submodules
MODULES = frozenset("""
    cuda exceptions fft lib linalg polynomial random testing typing
""".split())

# cupy.linalg
LINALG = frozenset("""
    LinAlgError cholesky cond cross det eig eigh eigvals eigvalsh inv lstsq matmul
    matrix_power matrix_rank matrix_transpose norm pinv qr slogdet solve svd tensorinv
    tensorsolve
""".split())

# cupy.random
RANDOM = frozenset("""
    BitGenerator MRG32k3a Philox4x3210 RandomState XORWOW beta binomial bytes chisquare
    choice default_rng dirichlet exponential f gamma geometric get_random_state gumbel
    hypergeometric laplace logistic lognormal logseries multinomial multivariate_normal
    negative_binomial noncentral_chisquare noncentral_f normal pareto permutation poisson
    power rand randint randn random random_integers random_sample ranf rayleigh reset_states
    sample seed set_random_state shuffle standard_cauchy standard_exponential standard_gamma
    standard_normal standard_t triangular uniform vonmises wald weibull zipf
""".split())

# methods of cupy.random.RandomState (cuRAND)
RANDOM_STATE = frozenset("""
    beta binomial chisquare choice dirichlet exponential f gamma geometric gumbel
    hypergeometric laplace logistic lognormal logseries multivariate_normal
    negative_binomial noncentral_chisquare noncentral_f normal pareto permutation poisson
    power rand randint randn random_sample rayleigh seed shuffle standard_cauchy
    standard_exponential standard_gamma standard_normal standard_t tomaxint triangular
    uniform vonmises wald weibull zipf
""".split())

# attributes and methods of cupy.ndarray
NDARRAY = frozenset("""
    T all any argmax argmin argpartition argsort astype base byteswap choose clip compress
    conj conjugate copy cstruct cumprod cumsum data device diagonal dot dtype dump dumps
    fill flags flat flatten get imag item itemsize mT max mdspan mean min nbytes ndim
    nonzero partition prod ptp put ravel real reduced_view repeat reshape round scatter_add
    scatter_max scatter_min searchsorted set shape size sort squeeze std strides sum
    swapaxes take toDlpack tobytes tofile tolist trace transpose var view
""".split())

# its special methods beyond object's (no __index__, no __contains__)
NDARRAY_SPECIAL = frozenset("""
    __abs__ __add__ __and__ __array__ __array_finalize__ __array_function__
    __array_priority__ __array_ufunc__ __bool__ __bytes__ __class_getitem__ __complex__
    __copy__ __cuda_array_interface__ __deepcopy__ __delitem__ __div__ __divmod__ __dlpack__
    __dlpack_device__ __float__ __floordiv__ __getitem__ __hex__ __iadd__ __iand__ __idiv__
    __ifloordiv__ __ilshift__ __imod__ __imul__ __int__ __invert__ __ior__ __ipow__
    __irshift__ __isub__ __iter__ __itruediv__ __ixor__ __len__ __lshift__ __matmul__
    __mod__ __module__ __mul__ __neg__ __oct__ __or__ __pos__ __pow__ __pyx_vtable__
    __radd__ __rand__ __rdivmod__ __rfloordiv__ __rlshift__ __rmatmul__ __rmod__ __rmul__
    __ror__ __rpow__ __rrshift__ __rshift__ __rsub__ __rtruediv__ __rxor__ __setitem__
    __slots__ __sub__ __truediv__ __xor__
""".split())

# cupyx
CUPYX = frozenset("""
    DeviceSynchronized GeneralizedUFunc allow_synchronize empty_like_pinned empty_pinned
    errstate get_runtime_info geterr linalg optimizing profiler rsqrt scatter_add
    scatter_max scatter_min scipy seterr time zeros_like_pinned zeros_pinned
""".split())

# cupy.cuda
CUDA = frozenset("""
    BaseMemory CFunctionAllocator Device Event ExternalStream Function Graph ManagedMemory
    Memory MemoryAsync MemoryAsyncPool MemoryHook MemoryPointer MemoryPool Module
    PinnedMemory PinnedMemoryPointer PinnedMemoryPool PythonFunctionAllocator Stream
    UnownedMemory alloc alloc_pinned_memory common compiler contextlib cub device driver
    function get_allocator get_cublas_handle get_cuda_path get_current_stream get_device_id
    get_elapsed_time get_hipcc_path get_local_runtime_version get_nvcc_path get_rocm_path
    graph is_available malloc_async malloc_managed memory memory_hook memory_hooks nvrtc
    nvtx pinned_memory profile profiler runtime set_allocator set_pinned_memory_allocator
    stream texture thrust using_allocator warnings
""".split())
