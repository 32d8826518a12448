import type { TargetedInputEvent } from "preact";
import { useId, useState } from "preact/hooks";

/** The server's rule (src/auth/passwords.ts), checked here too so the form says so before sending. */
const MIN_PASSWORD_LENGTH = 8;

/** A new password, with "Show password" so an admin can read back what they typed before handing it on. */
export function NewPasswordInput({
  label,
  value,
  onInput,
}: {
  label: string;
  value: string;
  onInput: (value: string) => void;
}) {
  const [shown, setShown] = useState(false);
  const hintId = useId();
  const inputProps = {
    autoComplete: "new-password",
    required: true,
    minLength: MIN_PASSWORD_LENGTH,
    "aria-describedby": hintId,
    value,
    onInput: (event: TargetedInputEvent<HTMLInputElement>) => onInput(event.currentTarget.value),
  };
  return (
    <div class="field">
      {/* biome-ignore lint/a11y/noLabelWithoutControl: the label wraps its input in both branches below */}
      <label>
        {label}
        {/* Two branches because the JSX types tie `role` to `type`; Preact patches the same element. */}
        {shown ? <input type="text" {...inputProps} /> : <input type="password" {...inputProps} />}
      </label>
      <div class="row hint">
        <span id={hintId} class="muted">
          At least {MIN_PASSWORD_LENGTH} characters.
        </span>
        <label class="inline">
          <input type="checkbox" checked={shown} onChange={(event) => setShown(event.currentTarget.checked)} />
          Show password
        </label>
      </div>
    </div>
  );
}
