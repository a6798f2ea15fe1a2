"""The complex-step derivative: what it computes and what "complex-safe" means.

The evaluation itself is in :mod:`.sampling` (functions) and
:mod:`deep_learning_toolkit.gradients.complex_step` (networks); this page is their reference.

For a real-analytic ``f``,

.. math::  f(x + i h e_k) = f(x) + i h \\partial_k f(x) - \\frac{h^2}{2} \\partial_k^2 f(x)
           - i \\frac{h^3}{6} \\partial_k^3 f(x) + \\dots,

so ``Im f(x + i h e_k) / h`` is the partial derivative with error ``h**2 |f'''| / 6`` and
*no subtraction*: the step can be ``1e-20`` and the result is as accurate as ``f`` itself
(about ``eps``), at one evaluation per parameter.

``f`` must be written in complex-safe arithmetic: no ``abs``, ``float()``, comparisons or
``np.real`` of the perturbed values. The layers, activations and losses of the toolkit are:

==================  ======================================================================
tanh, linear        analytic
sigmoid             analytic: ``0.5 + 0.5 tanh(z / 2)``
softmax             analytic; the overflow shift uses the max of the *real* part
relu, leaky_relu    analytic except at 0: the branch is chosen on the real part, so at
                    exactly ``z = 0`` the derivative is the left one (0, or the slope), as
                    in PyTorch
cross_entropy       analytic; log-sum-exp shifted by the max of the real part
binary_cross_ent.   analytic; softplus written per branch of the real part
mse                 analytic
mae                 **not analytic** (``|r|``): refused with a ``ValueError``
==================  ======================================================================

References: W. Squire and G. Trapp, "Using complex variables to estimate derivatives of real
functions", SIAM Review 40 (1998) 110-112; J. R. R. A. Martins, P. Sturdza and J. J. Alonso,
"The complex-step derivative approximation", ACM TOMS 29 (2003) 245-262.
"""
