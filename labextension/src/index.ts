/**
 * The academy's JupyterLab for trainees (loaded only in trainees' servers: deploy/singleuser/trainee).
 *
 * - Check / 확인 and Submit / 제출 on the toolbar of a notebook that is an assignment the trainee fetched (the server
 *   says so: GET /academy/assignment). Check runs the saved notebook's visible tests with nbgrader's validator
 *   (POST /academy/check) and lists each test cell, passed or failed, with its message. Submit saves, submits
 *   through the portal exchange (POST /academy/submit), shows "received at ..." and polls the portal
 *   (GET /academy/submission) until the score is there, then shows it with a link to the portal's feedback.
 * - The launcher lists the trainee's released assignments per course (each opens /academy/start) and the dataset
 *   tour notebook (/academy/tour).
 * The server side is academy/exchange/lab.py. Korean first, English after, as the server's own pages.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ToolbarButton, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

interface ITest {
  index: number;
  name: string;
  passed: boolean;
  points: number;
  max_points: number;
  message: string;
}

interface ISubmission {
  id: number;
  course: string;
  assignment: string;
  received_local: string;
  status: string;
  status_label: string;
  score: number | null;
  max_points: number | null;
  feedback_url: string;
}

const POLL_MS = 3000;
const POLL_FOR_MS = 15 * 60 * 1000;
const WAITING = ['queued', 'grading'];

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const settings = ServerConnection.makeSettings();
  const reply = await ServerConnection.makeRequest(URLExt.join(settings.baseUrl, 'academy', path), init, settings);
  let body: any = {};
  try {
    body = await reply.json();
  } catch (e) {
    body = {};
  }
  return { status: reply.status, body };
}

function element(tag: string, text: string, attrs: Record<string, string> = {}): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, value);
  }
  return node;
}

function points(value: number | null): string {
  return value === null || value === undefined ? '-' : String(Math.round(value * 100) / 100);
}

/** The status line above the notebook: what the last Check or Submit said (hidden while empty). */
class Status extends Widget {
  constructor() {
    super();
    this.addClass('academy-status');
    this.node.setAttribute('data-test', 'academy-status');
    this.hide();  // until the first Check or Submit
  }

  say(state: string, text: string, link?: { href: string; text: string }): void {
    this.node.setAttribute('data-state', state);
    this.node.textContent = text;
    this.show();  // its panel lays it out again, at its CSS min-height
    if (link) {
      this.node.appendChild(document.createTextNode(' '));
      this.node.appendChild(element('a', link.text, { href: link.href, target: '_blank', rel: 'noopener',
                                                      'data-test': 'academy-feedback-link' }));
    }
  }
}

function checkReport(tests: ITest[]): Widget {
  const body = new Widget();
  const list = element('ul', '', { class: 'academy-checks', 'data-test': 'academy-checks' });
  for (const test of tests) {
    const item = element('li', '', { 'data-passed': String(test.passed), 'data-test-name': test.name });
    item.appendChild(element('span', test.passed ? '통과 / passed' : '실패 / failed', { class: 'academy-verdict' }));
    item.appendChild(element('span', `${test.name} (${points(test.points)} / ${points(test.max_points)}점 / points)`));
    if (test.message) {
      item.appendChild(element('pre', test.message));
    }
    list.appendChild(item);
  }
  if (!tests.length) {
    list.appendChild(element('li', '이 노트북에는 확인할 테스트가 없습니다. / This notebook has no tests to run.'));
  }
  body.node.appendChild(list);
  return body;
}

const PROBLEMS: Record<string, string> = {
  changed: '잠긴 셀(테스트나 설명)이 바뀌었습니다. 원래대로 되돌린 뒤 다시 확인하세요. / A locked cell (a test or ' +
    'an instruction) was changed. Undo the change and check again.',
  type_changed: '셀의 종류가 바뀌었습니다. 원래대로 되돌린 뒤 다시 확인하세요. / A cell\'s type was changed. Undo ' +
    'the change and check again.'
};

async function check(panel: NotebookPanel, status: Status): Promise<void> {
  status.say('checking', '확인 중... / Checking...');
  await panel.context.save();
  const { status: code, body } = await call('check', { method: 'POST', body: JSON.stringify({ path: panel.context.path }) });
  if (code !== 200) {
    status.say('error', `확인하지 못했습니다 / Check failed: ${body.error || code}`);
    return;
  }
  const tests: ITest[] = body.tests || [];
  const failed = tests.filter(t => !t.passed).length;
  if (body.problem) {
    status.say('error', PROBLEMS[body.problem] || body.problem);
  } else {
    status.say(failed ? 'failed' : 'passed',
               `확인: ${tests.length - failed}/${tests.length} 통과 / Check: ${tests.length - failed} of ${tests.length} passed`);
  }
  await showDialog({
    title: body.problem ? PROBLEMS[body.problem] : '확인 결과 (보이는 테스트) / Check results (visible tests)',
    body: checkReport(tests),
    buttons: [Dialog.okButton({ label: '닫기 / Close' })]
  });
}

function showScore(sub: ISubmission, status: Status): boolean {
  const received = `${sub.received_local}에 받았습니다 / received at ${sub.received_local}`;
  if (WAITING.includes(sub.status)) {
    status.say('received', `${received} · 채점 중 / grading...`);
    return false;
  }
  const link = { href: sub.feedback_url, text: '피드백 보기 / See the feedback' };
  if (sub.status === 'graded') {
    status.say('graded', `${received} · 점수 / score ${points(sub.score)} / ${points(sub.max_points)}`, link);
  } else {
    status.say('error', `${received} · ${sub.status_label || sub.status}`, link);
  }
  return true;
}

async function submit(panel: NotebookPanel, status: Status, button: ToolbarButton): Promise<void> {
  const answer = await showDialog({
    title: '제출 / Submit',
    body: '이 과제를 포털에 제출할까요? 마지막 제출이 채점됩니다. / Submit this assignment to the portal? ' +
      'Your last submission is the one graded.',
    buttons: [Dialog.cancelButton({ label: '취소 / Cancel' }), Dialog.okButton({ label: '제출 / Submit' })]
  });
  if (!answer.button.accept) {
    return;
  }
  button.enabled = false;
  try {
    status.say('submitting', '제출 중... / Submitting...');
    await panel.context.save();
    const { status: code, body } = await call('submit', { method: 'POST', body: JSON.stringify({ path: panel.context.path }) });
    if (code !== 201) {
      status.say('error', `제출하지 못했습니다 / Not submitted: ${body.error || code}`);
      return;
    }
    let sub = body as ISubmission;
    const until = Date.now() + POLL_FOR_MS;
    while (!showScore(sub, status) && Date.now() < until) {
      await new Promise(resolve => setTimeout(resolve, POLL_MS));
      const query = URLExt.objectToQueryString({ course: sub.course, assignment: sub.assignment });
      const latest = await call(`submission${query}`);
      if (latest.status === 200 && latest.body.id === sub.id) {
        sub = latest.body as ISubmission;
      }
    }
  } finally {
    button.enabled = true;
  }
}

async function addButtons(panel: NotebookPanel): Promise<void> {
  await panel.context.ready;
  const query = URLExt.objectToQueryString({ path: panel.context.path });
  const { status: code } = await call(`assignment${query}`);
  if (code !== 200 || panel.isDisposed) {
    return;
  }
  const status = new Status();
  const checkButton = new ToolbarButton({
    label: '확인 / Check',
    tooltip: '보이는 테스트를 실행합니다 / Run the visible tests',
    className: 'academy-check',
    onClick: () => void check(panel, status)
  });
  const submitButton: ToolbarButton = new ToolbarButton({
    label: '제출 / Submit',
    tooltip: '포털에 제출합니다 / Submit to the portal',
    className: 'academy-submit',
    onClick: () => void submit(panel, status, submitButton)
  });
  panel.toolbar.addItem('academy-check', checkButton);
  panel.toolbar.addItem('academy-submit', submitButton);
  // Above the notebook, not in the toolbar: its text is long, and a full toolbar moves items into its overflow.
  panel.contentHeader.addWidget(status);
}

const toolbar: JupyterFrontEndPlugin<void> = {
  id: '@academy/lab:check-submit',
  description: 'Check / 확인 and Submit / 제출 in an assignment notebook',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.widgetAdded.connect((_sender, panel) => void addButtons(panel));
  }
};

const launcher: JupyterFrontEndPlugin<void> = {
  id: '@academy/lab:launcher',
  description: "The trainee's courses and the dataset tour on the launcher",
  autoStart: true,
  requires: [ILauncher],
  activate: (app: JupyterFrontEnd, launcher: ILauncher) => {
    const base = PageConfig.getBaseUrl();
    app.commands.addCommand('academy:go', {
      label: args => String(args.label || ''),
      caption: args => String(args.caption || ''),
      execute: args => {
        window.location.href = String(args.url);
      }
    });
    launcher.add({
      command: 'academy:go',
      category: '아카데미 / Academy',
      rank: 0,
      args: { label: '데이터셋 둘러보기 / Dataset tour', url: URLExt.join(base, 'academy', 'tour') }
    });
    void call('courses').then(({ status, body }) => {
      if (status !== 200) {
        return;
      }
      (body.assignments || []).forEach((a: any, rank: number) => {
        launcher.add({
          command: 'academy:go',
          category: `내 과목 / My course: ${a.course}`,
          rank,
          args: { label: `${a.title_ko} / ${a.title_en}`, caption: a.assignment, url: a.start_url }
        });
      });
    });
  }
};

export default [toolbar, launcher];
