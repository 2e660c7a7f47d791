// The latent explorer of report.html (see explorer.py): plain JavaScript, no library.
// It decodes z with the decoder's exported weights, exactly as model.decode does:
//   h = act(z W0 + b0), ..., x_mean = out_act(h W_out + b_out)
// and draws the result; window.minivaeExplorer exposes decode() and setZ() for tests.
// A conditional VAE's decoder reads [z, one-hot y]: the page's class selector chooses y.
(function () {
  "use strict";
  const spec = JSON.parse(document.getElementById("explorer-data").textContent);

  function floats(b64) {            // base64 little-endian float32 -> Float32Array
    const text = atob(b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }
  const layers = spec.layers.map(function (l) {
    return {rows: l.rows, cols: l.cols, W: floats(l.W), b: floats(l.b), act: l.act};
  });
  const ACT = {
    relu: function (v) { return v > 0 ? v : 0; },
    leaky_relu: function (v) { return v > 0 ? v : spec.slope * v; },
    tanh: Math.tanh,
    sigmoid: function (v) { return 1 / (1 + Math.exp(-v)); },
    identity: function (v) { return v; },
  };

  const classes = spec.num_classes || 0;
  let klass = 0;                                    // a CVAE's label y, 0..C-1

  // z: Z numbers -> Float64Array of D pixel means. W is (rows, cols), row-major.
  // A CVAE's input is [z, one-hot y]: Z + C numbers, y = the class (default: the selected one).
  function decode(z, y) {
    let h = Float64Array.from(z);
    if (classes > 0) {
      const zy = new Float64Array(z.length + classes);
      zy.set(h);
      zy[z.length + (y === undefined ? klass : y)] = 1;
      h = zy;
    }
    for (const l of layers) {
      const out = Float64Array.from(l.b);           // (cols,)
      for (let i = 0; i < l.rows; i++) {            // out += h[i] * W[i, :]
        const hi = h[i];
        if (hi === 0) continue;
        const row = i * l.cols;
        for (let j = 0; j < l.cols; j++) out[j] += hi * l.W[row + j];
      }
      const f = ACT[l.act];
      for (let j = 0; j < l.cols; j++) out[j] = f(out[j]);
      h = out;
    }
    return h;
  }

  const plane = document.getElementById("explorer-plane");
  const image = document.getElementById("explorer-image");
  const label = document.getElementById("explorer-z");
  const dims = spec.dims, oneD = dims.length === 1;
  const H = spec.image_shape[0], W = spec.image_shape[1];
  const C = spec.image_shape.length === 3 ? spec.image_shape[2] : 1;
  const z = spec.base.slice();
  let last = null;

  // Plane coordinates: dimension dims[0] left to right, dims[1] bottom to top.
  function toPixel(value, axis) {
    const t = (value - spec.lo[axis]) / (spec.hi[axis] - spec.lo[axis]);
    return axis === 0 ? t * plane.width : (1 - t) * plane.height;
  }
  function fromPixel(pixel, axis) {
    const t = axis === 0 ? pixel / plane.width : 1 - pixel / plane.height;
    return spec.lo[axis] + t * (spec.hi[axis] - spec.lo[axis]);
  }

  function drawPlane() {
    const g = plane.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, plane.width, plane.height);
    g.strokeStyle = "#ddd";
    g.beginPath();                                  // the axes through 0
    g.moveTo(toPixel(0, 0), 0); g.lineTo(toPixel(0, 0), plane.height);
    if (!oneD) { g.moveTo(0, toPixel(0, 1)); g.lineTo(plane.width, toPixel(0, 1)); }
    g.stroke();
    spec.points.forEach(function (p, i) {
      const y = oneD ? plane.height * (0.1 + 0.8 * ((i * 0.618034) % 1)) : toPixel(p[1], 1);
      g.fillStyle = spec.labels ? spec.colours[String(spec.labels[i])] : "#0072B2";
      g.globalAlpha = 0.5;
      g.fillRect(toPixel(p[0], 0) - 1.5, y - 1.5, 3, 3);
    });
    g.globalAlpha = 1;
    const x = toPixel(z[dims[0]], 0), y = oneD ? plane.height / 2 : toPixel(z[dims[1]], 1);
    g.strokeStyle = "#d00"; g.lineWidth = 2;
    g.beginPath(); g.arc(x, y, 7, 0, 2 * Math.PI); g.stroke();
    g.lineWidth = 1;
    g.fillStyle = "#555"; g.font = "12px sans-serif";
    g.fillText("z" + (dims[0] + 1) + " \u2192", plane.width - 40, plane.height - 6);
    if (!oneD) g.fillText("z" + (dims[1] + 1) + " \u2191", 4, 14);
  }

  function drawImage(pixels) {                      // pixels: (H * W * C,) in [0, 1]
    const small = document.createElement("canvas");
    small.width = W; small.height = H;
    const g = small.getContext("2d");
    const img = g.createImageData(W, H);
    for (let k = 0; k < H * W; k++) {
      for (let c = 0; c < 3; c++) {
        const v = pixels[k * C + (C === 1 ? 0 : c)];
        img.data[4 * k + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
      img.data[4 * k + 3] = 255;
    }
    g.putImageData(img, 0, 0);
    const big = image.getContext("2d");
    big.imageSmoothingEnabled = false;
    big.drawImage(small, 0, 0, image.width, image.height);
  }

  function setZ(values) {                           // values: the full (Z,) code
    for (let j = 0; j < z.length; j++) z[j] = values[j];
    last = decode(z);
    drawImage(last);
    drawPlane();
    label.textContent = dims.map(function (j) { return "z" + (j + 1) + " = " + z[j].toFixed(2); })
      .join(", ") + (classes > 0 ? ", y = " + klass : "");
  }

  function pointer(event) {
    const box = plane.getBoundingClientRect();
    const values = z.slice();
    values[dims[0]] = fromPixel((event.clientX - box.left) * plane.width / box.width, 0);
    if (!oneD) values[dims[1]] = fromPixel((event.clientY - box.top) * plane.height / box.height, 1);
    setZ(values);
  }
  let dragging = false;
  plane.addEventListener("pointerdown", function (e) { dragging = true; pointer(e); });
  plane.addEventListener("pointermove", function (e) { if (dragging) pointer(e); });
  window.addEventListener("pointerup", function () { dragging = false; });

  function setClass(y) {                            // a CVAE: decode the same z as class y
    klass = y;
    const select = document.getElementById("explorer-class");
    if (select) select.value = String(y);
    setZ(z.slice());
  }
  const select = document.getElementById("explorer-class");
  if (select) select.addEventListener("change", function () { setClass(Number(select.value)); });

  setZ(spec.base);
  window.minivaeExplorer = {
    decode: function (values, y) { return Array.from(decode(values, y)); },
    setClass: setClass,
    klass: function () { return klass; },
    setZ: setZ,
    z: function () { return z.slice(); },
    image: function () { return Array.from(last); },
    dims: dims,
  };
})();
