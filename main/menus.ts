/**
 * The application menu (every platform, the usual roles and their shortcuts; on macOS the app menu first) and the
 * right-click menu of the page: spelling suggestions for a misspelled word (spellcheck is on in the window), "Add to
 * dictionary", then cut/copy/paste/select all as the page allows them. Templates are plain data for Electron's
 * Menu.buildFromTemplate; main.ts builds and shows them. Electron-free, so they are tested under Node.
 */

/** An item of Electron's MenuItemConstructorOptions, as far as the app uses them. */
export interface MenuItemSpec {
  label?: string;
  role?: string;
  type?: 'separator';
  accelerator?: string;
  enabled?: boolean;
  submenu?: MenuItemSpec[];
  click?: () => void;
}

export interface AppMenuOptions {
  platform: string;
  appName: string;
  /** Development builds only: reload and the developer tools. */
  devTools: boolean;
  /** Help → Open logs folder. */
  openLogsFolder(): void;
}

const SEPARATOR: MenuItemSpec = { type: 'separator' };

export function appMenuTemplate(o: AppMenuOptions): MenuItemSpec[] {
  const mac = o.platform === 'darwin';
  const menu: MenuItemSpec[] = [];
  if (mac) {
    menu.push({
      label: o.appName,
      submenu: [{ role: 'about' }, SEPARATOR, { role: 'services' }, SEPARATOR, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, SEPARATOR, { role: 'quit' }],
    });
  }
  menu.push({ label: '&File', submenu: mac ? [{ role: 'close' }] : [{ role: 'close' }, SEPARATOR, { role: 'quit', label: `Quit ${o.appName}` }] });
  menu.push({
    label: '&Edit',
    submenu: [
      { role: 'undo' },
      { role: 'redo' },
      SEPARATOR,
      { role: 'cut' },
      { role: 'copy' },
      { role: 'paste' },
      ...(mac ? [{ role: 'pasteAndMatchStyle' }] : []),
      { role: 'delete' },
      { role: 'selectAll' },
    ],
  });
  menu.push({
    label: '&View',
    submenu: [
      ...(o.devTools ? [{ role: 'reload' }, { role: 'toggleDevTools' }, SEPARATOR] : []),
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      SEPARATOR,
      { role: 'togglefullscreen' },
    ],
  });
  menu.push({ label: '&Window', submenu: mac ? [{ role: 'minimize' }, { role: 'zoom' }, SEPARATOR, { role: 'front' }] : [{ role: 'minimize' }, { role: 'close' }] });
  menu.push({
    label: '&Help',
    role: 'help',
    submenu: [{ label: 'Open logs folder', click: () => o.openLogsFolder() }, ...(mac ? [] : [SEPARATOR, { role: 'about' }])],
  });
  return menu;
}

/** The part of Electron's ContextMenuParams the menu needs. */
export interface ContextMenuParams {
  isEditable: boolean;
  selectionText: string;
  misspelledWord: string;
  dictionarySuggestions: string[];
  editFlags: { canCut: boolean; canCopy: boolean; canPaste: boolean; canSelectAll: boolean };
}

export interface SpellingActions {
  replaceMisspelling(word: string): void;
  addToDictionary(word: string): void;
}

/** Most suggestions offered (Chromium may return more). */
const MAX_SUGGESTIONS = 5;

/** The right-click menu for `params`; empty when there is nothing to offer (plain text, nothing selected). */
export function contextMenuTemplate(params: ContextMenuParams, spelling: SpellingActions): MenuItemSpec[] {
  const items: MenuItemSpec[] = [];
  if (params.isEditable && params.misspelledWord) {
    const suggestions = params.dictionarySuggestions.slice(0, MAX_SUGGESTIONS);
    if (suggestions.length === 0) items.push({ label: 'No spelling suggestions', enabled: false });
    for (const word of suggestions) items.push({ label: word, click: () => spelling.replaceMisspelling(word) });
    items.push({ label: 'Add to dictionary', click: () => spelling.addToDictionary(params.misspelledWord) }, SEPARATOR);
  }
  if (params.isEditable) {
    items.push(
      { role: 'cut', enabled: params.editFlags.canCut },
      { role: 'copy', enabled: params.editFlags.canCopy },
      { role: 'paste', enabled: params.editFlags.canPaste },
      SEPARATOR,
      { role: 'selectAll', enabled: params.editFlags.canSelectAll },
    );
  } else if (params.selectionText.trim()) {
    items.push({ role: 'copy', enabled: params.editFlags.canCopy });
  }
  return items;
}

/** The part of Electron's WebContents the right-click menu uses. */
export interface ContextMenuContents {
  on(event: 'context-menu', listener: (event: unknown, params: ContextMenuParams) => void): unknown;
  replaceMisspelling(word: string): void;
  session: { addWordToSpellCheckerDictionary(word: string): boolean };
}

/** Shows the right-click menu of the page; `popup` builds the template and shows it (Menu.buildFromTemplate(t).popup()). */
export function installContextMenu(wc: ContextMenuContents, popup: (template: MenuItemSpec[]) => void): void {
  wc.on('context-menu', (_event, params) => {
    const template = contextMenuTemplate(params, {
      replaceMisspelling: (word) => wc.replaceMisspelling(word),
      addToDictionary: (word) => void wc.session.addWordToSpellCheckerDictionary(word),
    });
    if (template.length > 0) popup(template);
  });
}
