/**
 * Image (`ImageModel`): image bytes (PNG by default) the front end shows; the bytes travel as a
 * binary buffer of the comm message, not as JSON.
 *
 * @example
 * ```ts
 * const img = new Image({ value: pngBytes, width: "128px" });
 * img.value = nextPngBytes;
 * ```
 *
 * @module
 */
import { type DOMProps, domTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { bytes, str } from "./traits.ts";
import { widgetClass } from "./widget.ts";

/** Properties of an {@link Image}. */
export interface ImageProps extends DOMProps {
  /** The encoded image. */
  value: Uint8Array;
  /** Its format, the MIME subtype ("png", "jpeg", "svg+xml", …). */
  format: string;
  /** Width (CSS), "" for the image's own. */
  width: string;
  /** Height (CSS), "" for the image's own. */
  height: string;
}

/** An image; see the module docs. */
export class Image extends widgetClass<ImageProps>(controlsModel("Image"), {
  ...domTraits(),
  value: bytes(),
  format: str("png"),
  width: str(),
  height: str(),
}) {}
