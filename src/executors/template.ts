/**
 * Dagu 2.x's `action: template.render`, run in the Worker: the step's template rendered with its
 * data (../domain/template-render.ts) is its stdout, exactly as rendered (Dagu adds no newline).
 * A template that fails — a missing key (Dagu sets missingkey=error), a function's error — fails
 * the step with Go's message, as Dagu's `template: execution error: …`.
 */
import { TemplateExecError, TemplateParseError } from "../domain/go-template.ts";
import { renderDaguTemplate } from "../domain/template-render.ts";
import { capLog, capStdout, type Executor } from "./executor.ts";

export const templateExecutor: Executor = {
  async run(invocation) {
    if (invocation.refusal) return failure(invocation.refusal);
    try {
      const rendered = renderDaguTemplate(invocation.script ?? "", invocation.config.data);
      return { exitCode: 0, stdout: capStdout(rendered, invocation.stdoutCapture), stderr: "" };
    } catch (error) {
      // A template is checked when the DAG is saved; one that fails to parse here was saved before.
      if (error instanceof TemplateParseError) return failure(`template: parse error: ${error.message}`);
      if (error instanceof TemplateExecError) return failure(`template: execution error: ${error.message}`);
      throw error;
    }
  },
};

function failure(error: string) {
  return { exitCode: 1, stdout: "", stderr: capLog(error), error };
}
