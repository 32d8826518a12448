import { api, must } from "../api/client.ts";
import { useApi } from "./use-api.ts";

/** Every DAG's name, for pickers (the runs filter, an alert policy's DAG filter). The API pages at 1000. */
export function useDagNames() {
  return useApi(
    () =>
      must(api.GET("/dags", { params: { query: { perPage: 1000 } } })).then((answer) =>
        answer.dags.map((dag) => dag.fileName),
      ),
    [],
  );
}
