// JupyterLab plugin: the "Ray" sidebar and job-log tabs, over the raynb server extension.
// It lives in JupyterLab itself, so it keeps working with no kernel, or a busy or restarting one.

import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from "@jupyterlab/application";
import { MainAreaWidget, WidgetTracker } from "@jupyterlab/apputils";
import { ISettingRegistry } from "@jupyterlab/settingregistry";
import { LabIcon } from "@jupyterlab/ui-components";
import { RayApi, type Job } from "./api";
import { JobLogWidget } from "./logtab";
import { RaySidebar } from "./sidebar";
import { RAY_SVG, addStyles } from "./style";

const PLUGIN_ID = "raynb:plugin";
const OPEN_LOGS = "raynb:open-job-logs";

const rayIcon = new LabIcon({ name: "raynb:ray", svgstr: RAY_SVG });

function activate(app: JupyterFrontEnd, settings: ISettingRegistry | null, restorer: ILayoutRestorer | null): void {
  addStyles();
  const api = new RayApi();
  const tracker = new WidgetTracker<MainAreaWidget<JobLogWidget>>({ namespace: "raynb-job-logs" });

  app.commands.addCommand(OPEN_LOGS, {
    label: (args) => `Logs of Ray job ${args.id}`,
    execute: (args) => {
      const id = String(args.id);
      const open = tracker.find((w) => w.content.jobId === id);
      if (open) return app.shell.activateById(open.id);
      const content = new JobLogWidget(api, id, String(args.status ?? ""));
      const tab = new MainAreaWidget({ content });
      tab.id = `raynb-job-log-${id}`;
      tab.title.label = `Ray job ${id}`;
      tab.title.icon = rayIcon;
      tab.title.closable = true;
      void tracker.add(tab);
      app.shell.add(tab, "main");
      app.shell.activateById(tab.id);
    },
  });

  const sidebar = new RaySidebar(api, (job: Job) => void app.commands.execute(OPEN_LOGS, { id: job.id, status: job.status }), 5000);
  sidebar.title.icon = rayIcon;
  sidebar.title.caption = "Ray cluster and jobs";
  app.shell.add(sidebar, "left", { rank: 900 });
  restorer?.add(sidebar, "raynb-sidebar");
  void restorer?.restore(tracker, { command: OPEN_LOGS, args: (w) => ({ id: w.content.jobId }), name: (w) => w.content.jobId });

  const apply = (s: ISettingRegistry.ISettings) => {
    api.address = String(s.get("address").composite ?? "").trim();
    sidebar.setInterval(Math.max(1, Number(s.get("refreshInterval").composite) || 5) * 1000);
    void sidebar.poll.refresh();
  };
  if (settings) {
    void settings.load(PLUGIN_ID).then((s) => {
      apply(s);
      s.changed.connect(apply);
    });
  } else {
    void sidebar.poll.refresh();
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "Ray side panel: the cluster and its jobs beside every notebook, even with no kernel.",
  autoStart: true,
  optional: [ISettingRegistry, ILayoutRestorer],
  activate,
};

export default plugin;
